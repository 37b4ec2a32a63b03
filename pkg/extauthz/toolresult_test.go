package extauthz

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// TestDenyFormatToolResult: with deny_format tool_result a policy denial of
// a tools/call is a CallToolResult with isError and the SEP-2643 envelope
// in _meta, the id echoed, HTTP 200; other denials keep their shapes.
func TestDenyFormatToolResult(t *testing.T) {
	undisclosed := map[string]any{"reason": "insufficient_authorization", "remediation": "undisclosed"}
	tests := []struct {
		name       string
		format     string
		d          policy.Decision
		body       string // "" keeps the tools/call
		wantStatus int
		wantMeta   map[string]any // nil: not a tool result
		wantText   string
	}{
		{"tool_result, no remediation", DenyFormatToolResult, policy.Decision{Reason: "tool_not_allowed"}, "", 200, undisclosed, "Forbidden by policy"},
		{"tool_result ignores policy_deny_status", DenyFormatToolResult, policy.Decision{Reason: "tool_not_allowed",
			RPCError: &policy.RPCError{Code: CodePolicyDenied, Message: "Not for analysts."}}, "", 200, undisclosed, "Not for analysts."},
		{"tool_result with a URL", DenyFormatToolResult, policy.Decision{Reason: "tool_not_allowed",
			Remediation: &policy.Remediation{URL: "https://portal.example.test/access"}}, "", 200,
			map[string]any{"reason": "insufficient_authorization", "remediation": "available",
				"remediationHints": []any{map[string]any{"type": "url", "url": "https://portal.example.test/access"}}},
			"Forbidden by policy. To continue, open https://portal.example.test/access"},
		{"tool_result with a connection", DenyFormatToolResult, policy.Decision{Reason: "connection_required",
			Remediation: &policy.Remediation{Connection: "github"}}, "", 200,
			map[string]any{"reason": "insufficient_authorization", "remediation": "available",
				"remediationHints": []any{map[string]any{"type": "connection", "connection": "github"}}},
			"Forbidden by policy. This call needs the connection github."},
		{"default format is a JSON-RPC error", "", policy.Decision{Reason: "tool_not_allowed"}, "", 403, nil, ""},
		{"invalid_arguments keeps -32602", DenyFormatToolResult, policy.Decision{Reason: "invalid_arguments",
			RPCError: &policy.RPCError{Code: -32602, Message: "Invalid params"}}, "", 403, nil, ""},
		{"a step-up challenge keeps its 403", DenyFormatToolResult, policy.Decision{Reason: "insufficient_scope", HTTPStatus: 403,
			Challenge: &policy.Challenge{Error: "insufficient_scope", Scope: "a"}}, "", 403, nil, ""},
		{"a policy status is kept", DenyFormatToolResult, policy.Decision{Reason: "slow_down", HTTPStatus: 429}, "", 429, nil, ""},
		{"not a tools/call", DenyFormatToolResult, policy.Decision{Reason: "unknown_method"},
			`{"jsonrpc":"2.0","id":"a-1","method":"prompts/get","params":{"name":"p"}}`, 403, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, &fakeDecider{d: tt.d}, func(o *Options) { o.DenyFormat, o.PolicyDenyStatus = tt.format, 403 })
			spec := baseSpec(mint(t, nil))
			if tt.body != "" {
				spec.body = tt.body
			}
			resp, err := s.Check(context.Background(), spec.build())
			if err != nil {
				t.Fatal(err)
			}
			v := viewDenied(t, resp)
			if v.status != tt.wantStatus || v.reason != tt.d.Reason {
				t.Errorf("deny %d %q; want %d %q", v.status, v.reason, tt.wantStatus, tt.d.Reason)
			}
			result, isResult := v.body["result"].(map[string]any)
			if tt.wantMeta == nil {
				if isResult {
					t.Errorf("body %v is a result; want no tool result", v.body)
				}
				return
			}
			if !isResult || v.body["id"] != json.Number("7") || v.body["error"] != nil || result["isError"] != true {
				t.Fatalf("body %v; want a result with isError true echoing id 7", v.body)
			}
			meta, _ := result["_meta"].(map[string]any)
			if diff := cmp.Diff(tt.wantMeta, meta[AuthorizationMetaKey]); diff != "" {
				t.Errorf("_meta[%s] (-want +got):\n%s", AuthorizationMetaKey, diff)
			}
			content, _ := result["content"].([]any)
			if len(content) != 1 || content[0].(map[string]any)["text"] != tt.wantText {
				t.Errorf("content = %v; want one text %q", content, tt.wantText)
			}
			if v.headers["content-type"] != "application/json" {
				t.Errorf("content-type = %q; want application/json", v.headers["content-type"])
			}
		})
	}
}

// TestDenyFormatToolResultDisclosesNothing: the envelope carries no reason
// code, rule, role or token, whatever the decision holds.
func TestDenyFormatToolResultDisclosesNothing(t *testing.T) {
	tok := mint(t, map[string]any{"roles": []string{"secret_role"}})
	d := policy.Decision{Reason: "tool_not_allowed", DynamicMetadata: map[string]any{"rule": "roles.allowed", "roles": []any{"secret_role"}}}
	s := newTestServer(t, &fakeDecider{d: d}, func(o *Options) { o.DenyFormat = DenyFormatToolResult })
	resp, err := s.Check(context.Background(), baseSpec(tok).build())
	if err != nil {
		t.Fatal(err)
	}
	body := resp.GetDeniedResponse().GetBody()
	for _, leak := range []string{"tool_not_allowed", "roles", "secret_role", tok[:20], "admin"} {
		if strings.Contains(body, leak) {
			t.Errorf("tool_result body %s contains %q", body, leak)
		}
	}
}
