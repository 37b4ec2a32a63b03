package e2e

import (
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/pkg/extauthz"
	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// denyFormatStack is realStack with extra configuration appended.
func denyFormatStack(t *testing.T, extra string) (*mcpharness.Stack, *checkLog) {
	t.Helper()
	log := &checkLog{}
	s := mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:   e2eConfig + extra,
		Upstream: mcpharness.UpstreamOptions{RegistryFile: registryFile},
		Gate:     func(c *envoyshim.Config) { c.Observe = log.observe },
	})
	return s, log
}

// TestDenyFormatToolResultGoSDK: with deny_format tool_result the official
// Go SDK client sees a policy denial of a tools/call as a tool error (no Go
// error) carrying the SEP-2643 authorization envelope in _meta, and the
// session goes on; the upstream never sees the denied call.
func TestDenyFormatToolResultGoSDK(t *testing.T) {
	s, log := denyFormatStack(t, "deny_format: tool_result\n")
	ctx := testCtx(t)
	for _, rev := range []string{"2025-06-18", "2025-11-25"} {
		cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "bob", "analyst"), mcpharness.ClientOptions{ProtocolVersion: rev, DisableStandaloneSSE: true})
		if err != nil {
			t.Fatalf("%s: connect: %v", rev, err)
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_issue", Arguments: map[string]any{"repo": "acme/api", "title": "t"}})
		if err != nil {
			t.Fatalf("%s: denied create_issue: Go error %v; want a tool error result", rev, err)
		}
		if !res.IsError {
			t.Fatalf("%s: denied create_issue: IsError false; want true", rev)
		}
		env, _ := res.Meta[extauthz.AuthorizationMetaKey].(map[string]any)
		if env["reason"] != "insufficient_authorization" || env["remediation"] != "undisclosed" {
			t.Errorf("%s: _meta[%s] = %v; want reason insufficient_authorization, remediation undisclosed", rev, extauthz.AuthorizationMetaKey, res.Meta)
		}
		if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != "Forbidden by policy" {
			t.Errorf("%s: content = %#v; want the text Forbidden by policy", rev, res.Content[0])
		}
		if got, err := callText(ctx, cs, "search_issues", map[string]any{"query": "x"}); err != nil || got == "" {
			t.Errorf("%s: search_issues after the deny = %q, %v; want the upstream's answer", rev, got, err)
		}
	}
	for _, c := range s.Upstream.Calls() {
		if c == "create_issue" {
			t.Errorf("the upstream ran the denied create_issue (calls %v)", s.Upstream.Calls())
		}
	}
	if !log.has("POST deny tool_not_allowed") {
		t.Errorf("no tool_not_allowed deny recorded; checks: %v", log.entries)
	}
}

// TestDenyFormatDefaultUnchanged: without deny_format the same denial is
// the JSON-RPC error -32003, as before, and a token failure keeps its 401
// under tool_result.
func TestDenyFormatDefaultUnchanged(t *testing.T) {
	s, _ := denyFormatStack(t, "")
	ctx := testCtx(t)
	cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "bob", "analyst"), mcpharness.ClientOptions{DisableStandaloneSSE: true})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "create_issue", Arguments: map[string]any{"repo": "acme/api", "title": "t"}})
	wantPolicyDeny(t, "default deny_format", err)

	_, client := startAppYAML(t, e2eConfig+"deny_format: tool_result\n")
	wantDeny(t, "no token under tool_result", mustCheck(t, client, mcpPost{body: createCallBody}.request()), 401, "token_missing")
	bob := mintAccess(t, map[string]any{"sub": "bob", "roles": []string{"analyst"}})
	d := wantDeny(t, "bad arguments under tool_result",
		mustCheck(t, client, mcpPost{authorization: "Bearer " + bob, body: toolCall("search_issues", `{"limit":"x"}`, "")}.request()), 200, "invalid_arguments")
	if want := `"code":-32602`; !strings.Contains(d.body, want) {
		t.Errorf("invalid_arguments body %s; want the JSON-RPC error %s", d.body, want)
	}
	d = wantDeny(t, "policy deny under tool_result", mustCheck(t, client, mcpPost{authorization: "Bearer " + bob, body: createCallBody}.request()), 200, "tool_not_allowed")
	if want := `"id":8,"result":{`; !strings.Contains(d.body, want) || !strings.Contains(d.body, `"isError":true`) {
		t.Errorf("tool_result body %s; want a result echoing id 8 with isError", d.body)
	}
}
