package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestHandoffRoundTrip(t *testing.T) {
	in := toolsCall("search_issues", "analyst")
	in.HTTP.Headers = map[string]string{"x-secret": "v"}
	in.MCP.Arguments = map[string]any{"query": "private"}
	in.Principal.Claims = map[string]any{"exp": json.Number("4102444800"), "tenant": "acme"}
	enc, err := HandoffOf(in).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(enc, "x-secret") || strings.Contains(enc, "private") {
		t.Errorf("handoff %s carries headers or arguments", enc)
	}
	h, err := DecodeHandoff(enc)
	if err != nil {
		t.Fatalf("DecodeHandoff: %v", err)
	}
	if h.Input.MCP.Tool != "search_issues" || h.Input.Principal.Claims["exp"] != json.Number("4102444800") {
		t.Errorf("decoded %+v; want the tool and the exact claim", h.Input)
	}
	for _, bad := range []string{``, `{}`, `{"input":{}}`, enc + `{}`, `{"input":` + enc[9:len(enc)-1] + `,"x":1}`, strings.Repeat(" ", MaxHandoffBytes+1)} {
		if _, err := DecodeHandoff(bad); err == nil {
			t.Errorf("DecodeHandoff(%.60q) = nil error; want refused", bad)
		}
	}
}

func BenchmarkHandoffEncode(b *testing.B) {
	in := toolsCall("search_issues", "analyst")
	in.Principal.Claims = map[string]any{"iss": "https://auth.example.test", "sub": "bob", "scope": "mcp:tools",
		"roles": []any{"analyst"}, "exp": json.Number("4102444800"), "iat": json.Number("1767225600")}
	b.ReportAllocs()
	for b.Loop() {
		enc, err := HandoffOf(in).Encode()
		if err != nil || len(enc) == 0 {
			b.Fatal(err)
		}
	}
}
