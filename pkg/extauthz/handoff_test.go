package extauthz

import (
	"context"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// TestCheckHandoff: an allow hands the decided input to ext_proc in its
// dynamic metadata (policy.HandoffKey), replacing a policy member of that
// name, without headers, arguments or credentials; a deny carries none.
func TestCheckHandoff(t *testing.T) {
	dec := &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed",
		DynamicMetadata: map[string]any{policy.HandoffKey: "forged", "sub": "alice"}}}
	s := newTestServer(t, dec, nil)
	tok := mint(t, nil)
	resp, err := s.Check(context.Background(), baseSpec(tok).build())
	if err != nil || resp.GetOkResponse() == nil {
		t.Fatalf("Check = %v, %v; want an allow", resp, err)
	}
	fields := resp.GetDynamicMetadata().GetFields()
	raw := fields[policy.HandoffKey].GetStringValue()
	h, err := policy.DecodeHandoff(raw)
	if err != nil {
		t.Fatalf("handoff %q: %v", raw, err)
	}
	if fields["sub"].GetStringValue() != "alice" {
		t.Errorf("the policy's own metadata was lost: %v", fields)
	}
	if h.Input.MCP.Method == "" || string(h.Input.MCP.ID) == "" || h.Input.Resource.ID == "" || h.Input.Principal.Subject == "" {
		t.Errorf("handoff input %+v lacks method, id, resource or subject", h.Input)
	}
	if h.Input.HTTP.Headers != nil || h.Input.MCP.Arguments != nil || strings.Contains(raw, tok) {
		t.Errorf("handoff carries headers, arguments or the token: %s", raw)
	}

	dec.d = policy.Decision{Allow: false, Reason: "tool_not_allowed"}
	resp, err = s.Check(context.Background(), baseSpec(tok).build())
	if err != nil || resp.GetDeniedResponse() == nil {
		t.Fatalf("Check = %v, %v; want a deny", resp, err)
	}
	if _, ok := resp.GetDynamicMetadata().GetFields()[policy.HandoffKey]; ok {
		t.Errorf("a deny carries a handoff")
	}
}

// TestShadowAllowCarriesHandoff: a policy denial allowed in shadow mode
// still hands its input to ext_proc, so its responses are inspected.
func TestShadowAllowCarriesHandoff(t *testing.T) {
	s := newTestServer(t, &fakeDecider{d: policy.Decision{Reason: "tool_not_allowed"}}, func(o *Options) { o.Shadow = true })
	shadowAll(s)
	resp, err := s.Check(context.Background(), baseSpec(mint(t, nil)).build())
	if err != nil || resp.GetOkResponse() == nil {
		t.Fatalf("Check = %v, %v; want the shadow allow", resp, err)
	}
	if _, err := policy.DecodeHandoff(resp.GetDynamicMetadata().GetFields()[policy.HandoffKey].GetStringValue()); err != nil {
		t.Errorf("shadow allow without a readable handoff: %v", err)
	}
}
