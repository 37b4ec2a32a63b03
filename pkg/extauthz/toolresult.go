package extauthz

import (
	"encoding/json"
	"strings"

	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// Deny formats (config deny_format).
const (
	// DenyFormatJSONRPCError answers a policy denial of a JSON-RPC request
	// with a JSON-RPC error (-32003): the default.
	DenyFormatJSONRPCError = "jsonrpc_error"
	// DenyFormatToolResult answers a policy denial of a tools/call with a
	// CallToolResult carrying isError and the SEP-2643 authorization
	// envelope in _meta, so the model can tell the user why and what to do.
	DenyFormatToolResult = "tool_result"
)

// AuthorizationMetaKey is the _meta key of the SEP-2643 authorization
// envelope in a tool_result denial.
const AuthorizationMetaKey = "io.modelcontextprotocol/authorization"

// toolResultDeny reports whether a policy deny outcome of msg is answered
// as a tool result: the format is tool_result, the message is a tools/call
// request, the deny is an authorization one (JSON-RPC -32003, no
// challenge) and the policy did not choose its own HTTP status.
func (s *Server) toolResultDeny(o outcome, d policy.Decision, msg *mcp.Message) bool {
	return s.opts.DenyFormat == DenyFormatToolResult && msg.Kind == mcp.KindRequest &&
		msg.Method == "tools/call" && o.rpcCode == CodePolicyDenied && d.Challenge == nil && d.HTTPStatus == 0
}

// toolResultBody writes the JSON-RPC response whose result is a
// CallToolResult with isError true, the request id echoed byte-exact, and
// the authorization envelope in _meta. The envelope names no rule, role or
// token: its reason is always insufficient_authorization and its
// remediation is the decision's, or undisclosed.
func toolResultBody(o outcome) string {
	text := rpcMessages[CodePolicyDenied]
	var rem *policy.Remediation
	if o.decision != nil {
		if e := o.decision.RPCError; e != nil && e.Message != "" {
			text = e.Message
		}
		rem = o.decision.Remediation
	}
	envelope := map[string]any{"reason": "insufficient_authorization", "remediation": "undisclosed"}
	switch {
	case rem != nil && rem.URL != "":
		envelope["remediation"] = "available"
		envelope["remediationHints"] = []any{map[string]any{"type": "url", "url": rem.URL}}
		text = strings.TrimSuffix(text, ".") + ". To continue, open " + rem.URL
	case rem != nil && rem.Connection != "":
		envelope["remediation"] = "available"
		envelope["remediationHints"] = []any{map[string]any{"type": "connection", "connection": rem.Connection}}
		text = strings.TrimSuffix(text, ".") + ". This call needs the connection " + rem.Connection + "."
	}
	result := map[string]any{
		"content": []any{map[string]any{"type": "text", "text": text}},
		"isError": true,
		"_meta":   map[string]any{AuthorizationMetaKey: envelope},
	}
	r, _ := json.Marshal(result)
	id := "null"
	if len(o.id) > 0 {
		id = string(o.id)
	}
	return `{"jsonrpc":"2.0","id":` + id + `,"result":` + string(r) + `}`
}
