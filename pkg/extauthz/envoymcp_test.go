package extauthz

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// filterStruct builds the MCP filter's metadata from JSON, as Envoy's
// parser would store it (numbers as doubles).
func filterStruct(t *testing.T, doc string) *structpb.Struct {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckFilterMetadata(t *testing.T) {
	call := &mcp.Message{Kind: mcp.KindRequest, Method: "tools/call", ID: json.RawMessage(`7`), Name: "search_issues", Tool: "search_issues"}
	read := &mcp.Message{Kind: mcp.KindRequest, Method: "resources/read", ID: json.RawMessage(`"r-1"`), Name: "file:///a"}
	note := &mcp.Message{Kind: mcp.KindNotification, Method: "notifications/initialized"}
	resp := &mcp.Message{Kind: mcp.KindResponse, ID: json.RawMessage(`3`)}
	agreeing := `{"jsonrpc":"2.0","method":"tools/call","id":7,"params":{"name":"search_issues"},"is_mcp_request":true}`
	tests := []struct {
		name string
		ns   string
		doc  string
		msg  *mcp.Message
		bad  string // "" agrees
	}{
		{"agreeing tools/call", MCPFilterNamespace, agreeing, call, ""},
		{"agreeing tools/call, legacy namespace", LegacyMCPFilterNamespace, agreeing, call, ""},
		{"another tool", MCPFilterNamespace, `{"method":"tools/call","params":{"name":"delete_repo"}}`, call, "params.name"},
		{"another tool, legacy namespace", LegacyMCPFilterNamespace, `{"method":"tools/call","params":{"name":"delete_repo"}}`, call, "params.name"},
		{"another method", MCPFilterNamespace, `{"method":"tools/list"}`, call, "method"},
		{"another id", MCPFilterNamespace, `{"method":"tools/call","id":8}`, call, "id"},
		{"id as a string", MCPFilterNamespace, `{"method":"tools/call","id":"7"}`, call, "id"},
		{"not MCP to the filter", MCPFilterNamespace, `{"is_mcp_request":false}`, call, "is_mcp_request"},
		{"params not an object", MCPFilterNamespace, `{"method":"tools/call","params":"x"}`, call, "params"},
		{"name not a string", MCPFilterNamespace, `{"method":"tools/call","params":{"name":5}}`, call, "params.name"},
		{"jsonrpc 1.0", MCPFilterNamespace, `{"jsonrpc":"1.0","method":"tools/call"}`, call, "jsonrpc"},
		{"partial view (exceeding limit) agrees", MCPFilterNamespace, `{"method":"tools/call","is_exceeding_limit":true}`, call, ""},
		{"uri agrees", MCPFilterNamespace, `{"method":"resources/read","id":"r-1","params":{"uri":"file:///a"}}`, read, ""},
		{"uri differs", MCPFilterNamespace, `{"method":"resources/read","params":{"uri":"file:///etc/passwd"}}`, read, "params.uri"},
		{"string id differs", MCPFilterNamespace, `{"method":"resources/read","id":"r-2"}`, read, "id"},
		{"notification", MCPFilterNamespace, `{"method":"notifications/initialized","is_mcp_request":true}`, note, ""},
		{"notification given an id", MCPFilterNamespace, `{"method":"notifications/initialized","id":1}`, note, "id"},
		{"response", MCPFilterNamespace, `{"method":"__jsonrpc_response","id":3,"is_mcp_request":false}`, resp, ""},
		{"response read as a call", MCPFilterNamespace, `{"method":"tools/call","id":3}`, resp, "method"},
		{"custom extraction ignored", MCPFilterNamespace, `{"method":"tools/call","params":{"name":"search_issues","arguments":{"q":"x"}},"group":"tool"}`, call, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm := map[string]*structpb.Struct{tt.ns: filterStruct(t, tt.doc)}
			err := checkFilterMetadata(fm, tt.msg)
			if tt.bad == "" {
				if err != nil {
					t.Errorf("checkFilterMetadata = %v; want nil", err)
				}
				return
			}
			if denial.ReasonOf(err) != denial.MCPMetadataMismatch || !containsField(err, tt.ns+"."+tt.bad) {
				t.Errorf("checkFilterMetadata = %v; want %s naming %s.%s", err, denial.MCPMetadataMismatch, tt.ns, tt.bad)
			}
		})
	}
	if err := checkFilterMetadata(nil, call); err != nil {
		t.Errorf("checkFilterMetadata(no metadata) = %v; want nil", err)
	}
	both := map[string]*structpb.Struct{
		MCPFilterNamespace:       filterStruct(t, agreeing),
		LegacyMCPFilterNamespace: filterStruct(t, `{"method":"tools/call","params":{"name":"delete_repo"}}`),
	}
	if denial.ReasonOf(checkFilterMetadata(both, call)) != denial.MCPMetadataMismatch {
		t.Errorf("one agreeing and one disagreeing namespace = allowed; want a mismatch")
	}
}

func containsField(err error, field string) bool {
	return err != nil && strings.Contains(err.Error(), field)
}

// TestCheckFilterMetadataDenies: a disagreeing view reaches the client as
// 400 mcp_metadata_mismatch with JSON-RPC -32600 and the id echoed, before
// the policy is asked.
func TestCheckFilterMetadataDenies(t *testing.T) {
	dec := &fakeDecider{d: allowDecision}
	s := newTestServer(t, dec, nil)
	req := baseSpec(mint(t, nil)).build()
	req.Attributes.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		MCPFilterNamespace: filterStruct(t, `{"method":"tools/call","id":7,"params":{"name":"delete_repo"}}`),
	}}
	resp, err := s.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	v := viewDenied(t, resp)
	if v.status != 400 || v.reason != "mcp_metadata_mismatch" || v.body["id"] != json.Number("7") {
		t.Errorf("deny %d %q body %v; want 400 mcp_metadata_mismatch echoing id 7", v.status, v.reason, v.body)
	}
	if e, _ := v.body["error"].(map[string]any); e["code"] != json.Number("-32600") {
		t.Errorf("error = %v; want code -32600", v.body["error"])
	}
	if dec.got != nil {
		t.Errorf("the policy was asked about a request the parsers disagree on")
	}
}
