package dpop

import (
	"strings"
	"testing"
)

func TestHTU(t *testing.T) {
	tests := []struct {
		name    string
		origin  string
		path    string
		want    string
		wantErr bool
	}{
		{name: "plain", origin: "https://mcp.example.test", path: "/mcp", want: "https://mcp.example.test/mcp"},
		{name: "origin trailing slash", origin: "https://mcp.example.test/", path: "/mcp", want: "https://mcp.example.test/mcp"},
		{name: "query dropped", origin: "https://mcp.example.test", path: "/mcp?session=1", want: "https://mcp.example.test/mcp"},
		{name: "fragment dropped", origin: "https://mcp.example.test", path: "/mcp#x", want: "https://mcp.example.test/mcp"},
		{name: "origin case and default port", origin: "HTTPS://MCP.EXAMPLE.TEST:443", path: "/mcp", want: "https://mcp.example.test/mcp"},
		{name: "http default port", origin: "http://127.0.0.1:80", path: "/mcp", want: "http://127.0.0.1/mcp"},
		{name: "other port kept", origin: "https://mcp.example.test:8443", path: "/mcp", want: "https://mcp.example.test:8443/mcp"},
		{name: "port leading zeros", origin: "https://mcp.example.test:08443", path: "/", want: "https://mcp.example.test:8443/"},
		{name: "IPv6 literal", origin: "https://[::1]:443", path: "/mcp", want: "https://[::1]/mcp"},
		{name: "IPv6 literal case", origin: "https://[FE80::A]:9000", path: "/mcp", want: "https://[fe80::a]:9000/mcp"},
		{name: "dot-segments", origin: "https://mcp.example.test", path: "/a/b/c/./../../g", want: "https://mcp.example.test/a/g"},
		{name: "dot-dot above root", origin: "https://mcp.example.test", path: "/../../mcp", want: "https://mcp.example.test/mcp"},
		{name: "final dot-dot keeps slash", origin: "https://mcp.example.test", path: "/a/b/..", want: "https://mcp.example.test/a/"},
		{name: "empty segments kept", origin: "https://mcp.example.test", path: "/a//b", want: "https://mcp.example.test/a//b"},
		{name: "percent hex upper-cased", origin: "https://mcp.example.test", path: "/a%2fb%c3%a9", want: "https://mcp.example.test/a%2Fb%C3%A9"},
		{name: "percent unreserved decoded", origin: "https://mcp.example.test", path: "/%7Euser/%41%2D", want: "https://mcp.example.test/~user/A-"},
		{name: "encoded dots are dot-segments", origin: "https://mcp.example.test", path: "/a/%2E%2E/mcp", want: "https://mcp.example.test/mcp"},
		{name: "path case kept", origin: "https://mcp.example.test", path: "/MCP", want: "https://mcp.example.test/MCP"},
		{name: "root", origin: "https://mcp.example.test", path: "/", want: "https://mcp.example.test/"},
		{name: "origin with path", origin: "https://mcp.example.test/base", path: "/mcp", wantErr: true},
		{name: "origin with query", origin: "https://mcp.example.test?x", path: "/mcp", wantErr: true},
		{name: "origin with userinfo", origin: "https://u:p@mcp.example.test", path: "/mcp", wantErr: true},
		{name: "origin ftp", origin: "ftp://mcp.example.test", path: "/mcp", wantErr: true},
		{name: "origin without scheme", origin: "mcp.example.test", path: "/mcp", wantErr: true},
		{name: "origin empty host", origin: "https://", path: "/mcp", wantErr: true},
		{name: "origin bad port", origin: "https://mcp.example.test:99999", path: "/mcp", wantErr: true},
		{name: "origin signed port", origin: "https://mcp.example.test:+80", path: "/mcp", wantErr: true},
		{name: "origin IPv6 zone", origin: "https://[fe80::1%25eth0]", path: "/mcp", wantErr: true},
		{name: "relative path", origin: "https://mcp.example.test", path: "mcp", wantErr: true},
		{name: "asterisk form", origin: "https://mcp.example.test", path: "*", wantErr: true},
		{name: "empty path", origin: "https://mcp.example.test", path: "", wantErr: true},
		{name: "bad percent", origin: "https://mcp.example.test", path: "/a%zz", wantErr: true},
		{name: "truncated percent", origin: "https://mcp.example.test", path: "/a%4", wantErr: true},
		{name: "space", origin: "https://mcp.example.test", path: "/a b", wantErr: true},
		{name: "non-ASCII", origin: "https://mcp.example.test", path: "/é", wantErr: true},
		{name: "backslash", origin: "https://mcp.example.test", path: "/a\\b", wantErr: true},
		{name: "too long", origin: "https://mcp.example.test", path: "/" + strings.Repeat("a", MaxURLBytes), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HTU(tc.origin, tc.path)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("HTU(%q, %q) = %q, %v; want %q, error %v", tc.origin, tc.path, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// checkNormalForm asserts the invariants of a normalised URL: idempotent,
// http(s), no query or fragment.
func checkNormalForm(t *testing.T, in, out string) {
	t.Helper()
	again, err := normalizeURL(out)
	if err != nil || again != out {
		t.Fatalf("normalizeURL(%q) = %q, but normalizeURL(%q) = %q, %v; want idempotent", in, out, out, again, err)
	}
	if !strings.HasPrefix(out, "http://") && !strings.HasPrefix(out, "https://") {
		t.Fatalf("normalizeURL(%q) = %q; want an http(s) URL", in, out)
	}
	if strings.ContainsAny(out, "?#") || len(out) > len(in)+1 {
		t.Fatalf("normalizeURL(%q) = %q; want no query, fragment or growth", in, out)
	}
}

func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{
		"https://mcp.example.test/mcp", "HTTPS://MCP.Example.TEST:443/a/../mcp?x#y", "http://[::1]:80/%7e/%2f/./..",
		"https://h:/", "https://h/a//..", "https://h/.%2E/./", "https://h", "https://h:0080/a/b/../../../c/.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := normalizeURL(s)
		if err != nil {
			return
		}
		checkNormalForm(t, s, out)
	})
}

func FuzzHTU(f *testing.F) {
	f.Add("https://mcp.example.test", "/mcp")
	f.Add("HTTP://127.0.0.1:80/", "/a/./b/../%7e?q#f")
	f.Add("https://[::1]", "//x/..")
	f.Fuzz(func(t *testing.T, origin, path string) {
		out, err := HTU(origin, path)
		if err != nil {
			return
		}
		checkNormalForm(t, origin+path, out)
		if withQuery, err := HTU(origin, path+"?q=1#f"); err != nil || withQuery != out {
			t.Fatalf("HTU(%q, %q+query) = %q, %v; want %q", origin, path, withQuery, err, out)
		}
	})
}

func BenchmarkHTU(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if got, err := HTU("HTTPS://MCP.Example.Test:443", "/a/../mcp?x=1"); err != nil || got != testURL {
			b.Fatalf("HTU = %q, %v; want %q", got, err, testURL)
		}
	}
}
