package registry

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

const regionManifest = `{"name":"query","inputSchema":{"type":"object","properties":{
 "region":{"type":"string","x-mcp-header":"Region"},
 "shard":{"type":"integer","x-mcp-header":"Shard"},
 "dry":{"type":"boolean","x-mcp-header":"Dry-Run"},
 "opts":{"type":"object","properties":{"tenant":{"type":"string","x-mcp-header":"Tenant"}}},
 "sql":{"type":"string"}}}}`

func headerRegistry(t testing.TB) *Registry {
	t.Helper()
	return mustLoad(t, map[string]any{"servers": map[string]any{"db": map[string]any{
		"resource": "https://db.test/mcp",
		"tools": map[string]any{
			"query": approved(t, regionManifest),
			"plain": map[string]any{"manifest": decode(t, regionManifest)}, // not approved
		},
	}}})
}

func headersOf(kv ...string) func(string) []string {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return func(name string) []string { return h.Values(name) }
}

func TestCheckParamHeaders(t *testing.T) {
	r := headerRegistry(t)
	tests := []struct {
		name    string
		args    string
		headers []string
		want    string // "" means no error; else a substring
	}{
		{"all match", `{"region":"us-west1","shard":42,"dry":true,"opts":{"tenant":"acme"}}`,
			[]string{"Mcp-Param-Region", "us-west1", "Mcp-Param-Shard", "42", "Mcp-Param-Dry-Run", "true", "Mcp-Param-Tenant", "acme"}, ""},
		{"absent arguments need no headers", `{"sql":"select 1"}`, nil, ""},
		{"null argument needs no header", `{"region":null}`, nil, ""},
		{"header case does not matter", `{"region":"eu"}`, []string{"mcp-param-region", "eu"}, ""},
		{"base64 value", `{"region":"Zürich"}`, []string{"Mcp-Param-Region", "=?base64?WsO8cmljaA==?="}, ""},
		{"integer compares numerically", `{"shard":42}`, []string{"Mcp-Param-Shard", "42.0"}, ""},
		{"integer argument written as float", `{"shard":42.0}`, []string{"Mcp-Param-Shard", "42"}, ""},
		{"missing header", `{"region":"us"}`, nil, "Mcp-Param-Region missing for argument /region"},
		{"mismatch", `{"region":"us"}`, []string{"Mcp-Param-Region", "eu"}, "Mcp-Param-Region differs from argument /region"},
		{"nested mismatch", `{"opts":{"tenant":"acme"}}`, []string{"Mcp-Param-Tenant", "evil"}, "differs from argument /opts/tenant"},
		{"header without argument", `{}`, []string{"Mcp-Param-Region", "us"}, "sent but argument /region is absent"},
		{"repeated header", `{"region":"us"}`, []string{"Mcp-Param-Region", "us", "Mcp-Param-Region", "us"}, "repeated"},
		{"bad base64", `{"region":"us"}`, []string{"Mcp-Param-Region", "=?base64?***?="}, "not valid"},
		{"boolean spelling", `{"dry":true}`, []string{"Mcp-Param-Dry-Run", "True"}, "differs"},
		{"hex integer", `{"shard":42}`, []string{"Mcp-Param-Shard", "0x2A"}, "differs"},
		{"unsafe integer", `{"shard":9007199254740993}`, []string{"Mcp-Param-Shard", "9007199254740993"}, "differs"},
		{"literal sentinel lookalike", `{"region":"=?base64?x"}`, []string{"Mcp-Param-Region", "=?base64?x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.CheckParamHeaders("db", "query", decode(t, tt.args), headersOf(tt.headers...))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckParamHeaders(%s) = %v; want nil", tt.args, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrParamHeader)):
				t.Errorf("CheckParamHeaders(%s) = %v; want ErrParamHeader containing %q", tt.args, err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "us-west") || strings.Contains(err.Error(), "evil")) {
				t.Errorf("CheckParamHeaders(%s) error %q contains a value", tt.args, err)
			}
		})
	}
	if err := r.CheckParamHeaders("db", "plain", decode(t, `{"region":"us"}`), headersOf()); err != nil {
		t.Errorf("CheckParamHeaders(unapproved tool) = %v; want nil", err)
	}
}

func TestVerdictParamHeaders(t *testing.T) {
	r := headerRegistry(t)
	v := r.Check("db", "query", decode(t, `{"region":"eu","shard":7}`), nil)
	want := []ParamHeader{
		{Name: "Mcp-Param-Dry-Run", Pointer: "/dry"},
		{Name: "Mcp-Param-Tenant", Pointer: "/opts/tenant"},
		{Name: "Mcp-Param-Region", Pointer: "/region", Present: true, Value: "eu"},
		{Name: "Mcp-Param-Shard", Pointer: "/shard", Present: true, Value: "7"},
	}
	if len(v.ParamHeaders) != len(want) {
		t.Fatalf("Check().ParamHeaders = %+v; want %+v", v.ParamHeaders, want)
	}
	for i := range want {
		if v.ParamHeaders[i] != want[i] {
			t.Errorf("Check().ParamHeaders[%d] = %+v; want %+v", i, v.ParamHeaders[i], want[i])
		}
	}
}

func TestScanHeadersInvalid(t *testing.T) {
	tests := []struct{ name, schema, want string }{
		{"under items", `{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","x-mcp-header":"A"}}}}`, "not reachable"},
		{"under anyOf", `{"type":"object","anyOf":[{"properties":{"a":{"type":"string","x-mcp-header":"A"}}}]}`, "not reachable"},
		{"under $defs", `{"type":"object","$defs":{"d":{"type":"string","x-mcp-header":"A"}}}`, "not reachable"},
		{"at the root", `{"type":"object","x-mcp-header":"A"}`, "not reachable"},
		{"number type", `{"type":"object","properties":{"a":{"type":"number","x-mcp-header":"A"}}}`, "type \"number\""},
		{"object type", `{"type":"object","properties":{"a":{"type":"object","x-mcp-header":"A"}}}`, "type \"object\""},
		{"not a token", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"A B"}}}`, "not an HTTP token"},
		{"empty", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":""}}}`, "not an HTTP token"},
		{"not a string", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":1}}}`, "not an HTTP token"},
		{"duplicate ignoring case", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Region"},"b":{"type":"string","x-mcp-header":"REGION"}}}`, "declared at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scanHeaders(decode(t, tt.schema))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("scanHeaders(%s) = %v; want an error containing %q", tt.schema, err, tt.want)
			}
		})
	}
	ok := `{"type":"object","properties":{"a":{"type":"string","default":{"x-mcp-header":"X"},"enum":[{"x-mcp-header":"Y"}]}}}`
	if got, err := scanHeaders(decode(t, ok)); err != nil || len(got) != 0 {
		t.Errorf("scanHeaders(data keywords) = %v, %v; want none", got, err)
	}
}

// FuzzCheckParamHeaders: no panic; success means the decoded header equals
// the argument.
func FuzzCheckParamHeaders(f *testing.F) {
	r := headerRegistry(f)
	for _, s := range [][2]string{{"us", "us"}, {"Zürich", "=?base64?WsO8cmljaA==?="}, {"x", "=?base64?eA?="}, {"", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, arg, header string) {
		args := map[string]any{"region": arg}
		err := r.CheckParamHeaders("db", "query", args, headersOf("Mcp-Param-Region", header))
		if err != nil && !errors.Is(err, ErrParamHeader) {
			t.Fatalf("CheckParamHeaders(%q, %q) = %v; want ErrParamHeader", arg, header, err)
		}
		if decoded, ok := mcp.DecodeHeaderValue(header); err == nil && (!ok || decoded != arg) {
			t.Fatalf("CheckParamHeaders(%q, %q) = nil; header decodes to %q", arg, header, decoded)
		}
	})
}
