package e2e

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// withFilterMetadata adds Envoy's MCP filter view under namespace ns, as
// ext_authz forwards it with metadata_context_namespaces.
func withFilterMetadata(t *testing.T, req *authv3.CheckRequest, ns string, view map[string]any) *authv3.CheckRequest {
	t.Helper()
	s, err := structpb.NewStruct(view)
	if err != nil {
		t.Fatal(err)
	}
	req.Attributes.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{ns: s}}
	return req
}

// TestEnvoyMCPMetadataCrossCheck: under either namespace of Envoy's MCP
// filter, a view that agrees with our parse changes nothing, and one that
// disagrees (another tool, method or id) is denied mcp_metadata_mismatch
// before the policy is asked; without the filter our parse stands alone.
func TestEnvoyMCPMetadataCrossCheck(t *testing.T) {
	_, client := startAppYAML(t, e2eConfig)
	bob := "Bearer " + mintAccess(t, map[string]any{"sub": "bob", "roles": []string{"analyst"}})
	agree := map[string]any{"jsonrpc": "2.0", "method": "tools/call", "id": 7.0,
		"params": map[string]any{"name": "search_issues"}, "is_mcp_request": true}
	tests := []struct {
		name   string
		view   map[string]any
		reason string // "allowed" for an allow
	}{
		{"agreeing", agree, "allowed"},
		{"another tool", map[string]any{"method": "tools/call", "params": map[string]any{"name": "delete_repo"}}, "mcp_metadata_mismatch"},
		{"another method", map[string]any{"method": "tools/list"}, "mcp_metadata_mismatch"},
		{"another id", map[string]any{"method": "tools/call", "id": 8.0}, "mcp_metadata_mismatch"},
		{"not MCP to the filter", map[string]any{"is_mcp_request": false}, "mcp_metadata_mismatch"},
	}
	for _, ns := range []string{"envoy.filters.http.mcp", "mcp_proxy"} {
		for _, tt := range tests {
			req := withFilterMetadata(t, mcpPost{authorization: bob, body: searchCallBody}.request(), ns, tt.view)
			resp := mustCheck(t, client, req)
			what := ns + ": " + tt.name
			if tt.reason == "allowed" {
				wantAllow(t, what, resp)
				continue
			}
			d := wantDeny(t, what, resp, 400, tt.reason)
			if !strings.Contains(d.body, `"code":-32600`) || !strings.Contains(d.body, `"id":7`) {
				t.Errorf("%s: body %s; want JSON-RPC -32600 echoing id 7", what, d.body)
			}
		}
	}
	wantAllow(t, "no filter metadata", mustCheck(t, client, mcpPost{authorization: bob, body: searchCallBody}.request()))
}

// TestEnvoyMCPMetadataSmuggling: a body the filter reads as one tool (its
// duplicate-key rule is last-wins when reject_duplicate_keys is off) and we
// refuse outright stays refused; and a filter view naming an allowed tool
// cannot launder a call to a denied one.
func TestEnvoyMCPMetadataSmuggling(t *testing.T) {
	_, client := startAppYAML(t, e2eConfig)
	carol := "Bearer " + mintAccess(t, map[string]any{"sub": "carol", "roles": []string{"support"}})
	dup := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","name":"delete_repo","arguments":{}}}`
	req := withFilterMetadata(t, mcpPost{authorization: carol, body: dup}.request(), "envoy.filters.http.mcp",
		map[string]any{"method": "tools/call", "id": 7.0, "params": map[string]any{"name": "delete_repo"}})
	wantDeny(t, "duplicate name", mustCheck(t, client, req), 400, "invalid_request")

	del := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_repo","arguments":{"repo":"acme/api"}}}`
	req = withFilterMetadata(t, mcpPost{authorization: carol, body: del}.request(), "mcp_proxy",
		map[string]any{"method": "tools/call", "id": 7.0, "params": map[string]any{"name": "search_issues"}})
	wantDeny(t, "filter view naming an allowed tool", mustCheck(t, client, req), 400, "mcp_metadata_mismatch")
}
