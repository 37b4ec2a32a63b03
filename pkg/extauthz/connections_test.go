package extauthz

import (
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// TestWithConnections: a header we set overwrites the client's copy and is
// never listed for removal (Envoy removes after it sets); client copies of
// provider headers we do not set are removed; the policy cannot set one.
func TestWithConnections(t *testing.T) {
	policySet := []*corev3.HeaderValueOption{
		{Header: &corev3.HeaderValue{Key: "x-mcp-connection-crm", Value: "from-policy"}},
		{Header: &corev3.HeaderValue{Key: "x-team", Value: "a"}},
	}
	sent := mapHeaders{"x-mcp-connection-mail": {"spoofed"}, "x-mcp-connection-crm": {"spoofed"}}
	all := []string{"x-mcp-connection-mail", "x-mcp-connection-crm"}
	hs, remove := withConnections(policySet, nil, map[string]string{"x-mcp-connection-mail": "tok"}, all, sent)
	got := map[string]string{}
	for _, h := range hs {
		got[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		if h.GetHeader().GetKey() == "x-mcp-connection-mail" && h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Error("the credential header must overwrite")
		}
	}
	if got["x-mcp-connection-mail"] != "tok" || got["x-team"] != "a" || got["x-mcp-connection-crm"] != "" {
		t.Fatalf("headers set: %v", got)
	}
	if !slices.Equal(remove, []string{"x-mcp-connection-crm"}) {
		t.Fatalf("removed: %v (never the header we set)", remove)
	}
}

func TestReadElicitFacts(t *testing.T) {
	cases := []struct {
		name, body string
		rev        mcp.Revision
		url        bool
		state      string
	}{
		{"initialize url", `{"params":{"capabilities":{"elicitation":{"url":{}}}}}`, mcp.Rev20251125, true, ""},
		{"initialize form only", `{"params":{"capabilities":{"elicitation":{}}}}`, mcp.Rev20251125, false, ""},
		{"meta url", `{"params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"url":{}}}},"requestState":"s"}}`, mcp.Rev20260728, true, "s"},
		{"meta ignored before 2026", `{"params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"url":{}}}}}}`, mcp.Rev20251125, false, ""},
		{"url null", `{"params":{"capabilities":{"elicitation":{"url":null}}}}`, mcp.Rev20251125, false, ""},
		{"garbage", `[`, mcp.Rev20251125, false, ""},
	}
	for _, tc := range cases {
		f := readElicitFacts([]byte(tc.body), tc.rev)
		if f.urlCapable != tc.url || f.state != tc.state {
			t.Errorf("%s: %+v", tc.name, f)
		}
	}
}

// mapHeaders are request headers as a map (mcp.Headers).
type mapHeaders map[string][]string

func (m mapHeaders) Values(name string) []string { return m[name] }
