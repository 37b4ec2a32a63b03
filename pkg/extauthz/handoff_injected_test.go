package extauthz

import (
	"maps"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// TestHandoffNamesInjectedCredentials: the handoff tells the response side
// which credentials went upstream, by provider and version, never the token.
func TestHandoffNamesInjectedCredentials(t *testing.T) {
	in := &policy.Input{MCP: policy.MCP{Kind: "request", Method: "tools/call"}, Resource: policy.Resource{ID: "https://mcp.example.test/mcp"}}
	tests := []struct {
		name     string
		injected map[string]string
	}{
		{"none", nil},
		{"mail", map[string]string{"mail": "v-mail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := withHandoff(nil, in, tt.injected)
			enc := md.GetFields()[policy.HandoffKey].GetStringValue()
			h, err := policy.DecodeHandoff(enc)
			if err != nil {
				t.Fatalf("DecodeHandoff(%s): %v", enc, err)
			}
			if !maps.Equal(h.Injected, tt.injected) {
				t.Errorf("Injected = %v; want %v", h.Injected, tt.injected)
			}
			if tt.injected == nil && strings.Contains(enc, "injected") {
				t.Errorf("handoff %s names injected credentials for a call that carried none", enc)
			}
		})
	}
}
