package hop

import (
	"net"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tab := New([]Hop{
		{Host: "MCP.example.test", Path: "/mcp", Resource: "https://mcp.example.test/mcp"},
		{Host: "mcp.example.test", Path: "/b/mcp", Resource: "https://mcp.example.test/b/mcp"},
		{Path: "/any", Resource: "https://any.test/any"},
	})
	tests := []struct {
		name, host, path string
		ext              map[string]string
		want             string // resource, "" = no hop
	}{
		{"exact", "mcp.example.test", "/mcp", nil, "https://mcp.example.test/mcp"},
		{"host with port", "mcp.example.test:443", "/mcp", nil, "https://mcp.example.test/mcp"},
		{"host case", "Mcp.Example.Test", "/mcp", nil, "https://mcp.example.test/mcp"},
		{"query ignored", "mcp.example.test", "/mcp?x=1", nil, "https://mcp.example.test/mcp"},
		{"second hop", "mcp.example.test", "/b/mcp", nil, "https://mcp.example.test/b/mcp"},
		{"wildcard host", "other.test", "/any", nil, "https://any.test/any"},
		{"double slash", "mcp.example.test", "//mcp", nil, ""},
		{"path params", "mcp.example.test", "/mcp;x", nil, ""},
		{"upper case path", "mcp.example.test", "/MCP", nil, ""},
		{"percent encoded", "mcp.example.test", "/%6Dcp", nil, ""},
		{"encoded slash", "mcp.example.test", "/b%2Fmcp", nil, ""},
		{"trailing slash", "mcp.example.test", "/mcp/", nil, ""},
		{"other host", "evil.test", "/mcp", nil, ""},
		{"context extension", "in-cluster.svc", "/b/mcp", map[string]string{"resource": "https://mcp.example.test/b/mcp"}, "https://mcp.example.test/b/mcp"},
		{"context extension wrong path", "mcp.example.test", "/mcp", map[string]string{"resource": "https://mcp.example.test/b/mcp"}, ""},
		{"context extension unknown", "mcp.example.test", "/mcp", map[string]string{"resource": "https://x.test/"}, ""},
	}
	if h, _ := tab.Resolve("x", "/mcp", map[string]string{"resource": "https://mcp.example.test/mcp", "server": "issues"}, ""); h.Server != "issues" {
		t.Errorf("Resolve with context_extensions server = %q; want issues", h.Server)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := tab.Resolve(tc.host, tc.path, tc.ext, "")
			if got := h.Resource; ok != (tc.want != "") || got != tc.want {
				t.Errorf("Resolve(%q, %q, %v) = %q, %v; want %q", tc.host, tc.path, tc.ext, got, ok, tc.want)
			}
		})
	}
}

// TestResolveDestinationPrincipal: with two hops on one path, the client's
// Host header cannot pick the hop; Envoy's destination.principal does.
func TestResolveDestinationPrincipal(t *testing.T) {
	const a, b = "spiffe://cluster.local/ns/mcp/sa/issues", "spiffe://cluster.local/ns/mcp/sa/wiki"
	tab := New([]Hop{
		{Host: "issues.mcp", Path: "/mcp", Resource: "https://issues.example.test/mcp", DestinationPrincipal: a},
		{Host: "wiki.mcp", Path: "/mcp", Resource: "https://wiki.example.test/mcp", DestinationPrincipal: b},
	})
	tests := []struct {
		name, host, dest, want string
	}{
		{"matching host and destination", "issues.mcp", a, "https://issues.example.test/mcp"},
		{"host of the other hop", "wiki.mcp", a, ""},
		{"no destination principal", "issues.mcp", "", ""},
		{"other destination", "issues.mcp", b, ""},
	}
	for _, tc := range tests {
		h, ok := tab.Resolve(tc.host, "/mcp", nil, tc.dest)
		if got := h.Resource; ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: Resolve(%q, dest %q) = %q, %v; want %q", tc.name, tc.host, tc.dest, got, ok, tc.want)
		}
	}
}

// TestResolveMixedPinning: a workload pinned to its hop cannot be reached
// through an unpinned hop on the same path by sending that hop's Host.
func TestResolveMixedPinning(t *testing.T) {
	const a = "spiffe://cluster.local/ns/mcp/sa/issues"
	tab := New([]Hop{
		{Path: "/mcp", Resource: "https://issues.example.test/mcp", DestinationPrincipal: a},
		{Host: "wiki.mcp", Path: "/mcp", Resource: "https://wiki.example.test/mcp"},
	})
	tests := []struct {
		name, host, dest, want string
	}{
		{"pinned workload, own hop", "anything", a, "https://issues.example.test/mcp"},
		{"pinned workload, Host of the unpinned hop", "wiki.mcp", a, "https://issues.example.test/mcp"},
		{"unpinned workload", "wiki.mcp", "spiffe://cluster.local/ns/mcp/sa/wiki", "https://wiki.example.test/mcp"},
		{"no destination", "wiki.mcp", "", "https://wiki.example.test/mcp"},
	}
	for _, tc := range tests {
		h, ok := tab.Resolve(tc.host, "/mcp", nil, tc.dest)
		if got := h.Resource; ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: Resolve(%q, dest %q) = %q, %v; want %q", tc.name, tc.host, tc.dest, got, ok, tc.want)
		}
	}
}

// normHostReference is normHost before the no-colon fast path.
func normHostReference(h string) string {
	h = strings.ToLower(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

var normHostCases = []string{"", "a", "A.Example", "a:1", "a:", ":", "[::1]", "[::1]:8443", "[a]", "[A]:x", "::1", "a:b:c", "[", "]", "x]", "[x", "MCP.EXAMPLE.COM:443"}

// TestNormHostDifferential: the fast path answers as the reference.
func TestNormHostDifferential(t *testing.T) {
	for _, h := range normHostCases {
		if got, want := normHost(h), normHostReference(h); got != want {
			t.Errorf("normHost(%q) = %q; want %q", h, got, want)
		}
	}
}

// FuzzNormHost: any host header.
func FuzzNormHost(f *testing.F) {
	for _, h := range normHostCases {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if got, want := normHost(h), normHostReference(h); got != want {
			t.Fatalf("normHost(%q) = %q; want %q", h, got, want)
		}
	})
}
