package policy

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// jsonValue is the reference: the JSON form of x through OPA's converter.
func jsonValue(x any) (ast.Value, error) {
	bs, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(bs))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(v)
}

// inputCases are inputs that cover every field, empty and full, and every
// value type the builder converts.
func inputCases() []struct {
	name string
	in   *Input
} {
	full := toolsCall("search_issues", "analyst", "support")
	full.Workload = Workload{Principal: "spiffe://cluster.local/ns/a/sa/b", URISANs: []string{"spiffe://x"}}
	full.Resource.Server = "issues"
	full.Tool = &Tool{ID: "issues/search_issues", Registered: true, ArgumentsError: "/limit: type"}
	full.MCP.Arguments = map[string]any{
		"s": "x", "b": true, "n": nil, "f": 1.5, "big": 1e21, "small": 1e-7, "i": 3, "i64": int64(-9007199254740993),
		"num": json.Number("12345678901234567890"), "dec": json.Number("1.0"),
		"arr": []any{1.0, "a", []any{}, map[string]any{}}, "obj": map[string]any{"k": map[string]any{"z": false}},
		"ss": []string{"a", "b"}, "sm": map[string]string{"a": "b"}, "nilmap": map[string]any(nil),
		"unicode": "\u00e9\u2028<&>", "time": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		"raw": json.RawMessage(`{"a":[1,2]}`), "struct": struct{ A int }{A: 1},
	}
	full.Principal.Claims["aud"] = []string{"a", "b"}
	full.Principal.Claims["exp_time"] = time.Unix(1770000000, 0).UTC()
	full.Principal.Claims["nested"] = map[string]any{"roles": []any{"x"}}
	full.Principal.Act = []Actor{{Subject: "spiffe://cluster.local/ns/a/sa/b"}, {Subject: "c", Issuer: "https://i", ClientID: "app"}}
	full.Principal.MayAct = &Actor{Subject: "spiffe://cluster.local/ns/a/sa/b", Issuer: "https://i"}
	full.Principal.RolesError = "invalid_roles_claim"

	stringID := minimalInput()
	stringID.MCP.ID = json.RawMessage(`"req-1"`)
	escapedID := minimalInput()
	escapedID.MCP.ID = json.RawMessage(`"a\"b\u00e9\n"`)
	floatID := minimalInput()
	floatID.MCP.ID = json.RawMessage(`1.50`)
	emptyArgs := toolsCall("get_issue")
	emptyArgs.MCP.Arguments = map[string]any{}
	emptyArgs.Principal.Roles = []string{}
	emptyArgs.Principal.Claims = map[string]any{}
	emptyArgs.HTTP.Headers = map[string]string{}
	emptyArgs.Workload.URISANs = []string{}
	emptyArgs.Principal.Act = []Actor{}

	return []struct {
		name string
		in   *Input
	}{
		{"zero", &Input{}},
		{"minimal", minimalInput()},
		{"tools/call", toolsCall("search_issues", "analyst")},
		{"every field and type", full},
		{"string id", stringID},
		{"escaped string id", escapedID},
		{"float id", floatID},
		{"empty collections", emptyArgs},
		{"get stream", &Input{HTTP: HTTP{Method: "GET"}, MCP: MCP{Revision: "2025-06-18", Kind: "none", SessionID: "s"}}},
		{"list", &Input{MCP: MCP{Kind: "request", Method: "tools/list"}, List: &List{Method: "tools/list",
			Tools: map[string]Tool{"a": {ID: "s/a", Registered: true, Annotations: map[string]bool{"readOnlyHint": true}}},
			Names: []string{"p"}}}},
		{"connections", &Input{MCP: MCP{Kind: "request", Method: "tools/call"}, Connections: map[string]Connection{
			"mail": {Connected: true, Scopes: []string{"mail.read"}, ExpiresAt: "2026-01-01T00:00:00Z"},
			"crm":  {Scopes: []string{}}}}},
		{"output", &Input{MCP: MCP{Kind: "request", Method: "tools/call"}, Output: &Output{Tool: "s/a",
			Result: map[string]any{"content": []any{map[string]any{"type": "text"}}, "isError": false, "n": json.Number("1.5")}}}},
	}
}

func TestInputValueMatchesJSON(t *testing.T) {
	for _, tc := range inputCases() {
		t.Run(tc.name, func(t *testing.T) {
			want, err := jsonValue(tc.in)
			if err != nil {
				t.Fatalf("JSON form: %v", err)
			}
			if got := inputValue(tc.in); got.Compare(want) != 0 {
				t.Errorf("inputValue() = %v\nwant (JSON form) %v", got, want)
			}
		})
	}
}

func FuzzInputValueArguments(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":1}`, `{"a":[1,"x",null,true,{"b":1.5e300}]}`, `{"\u00e9":"\n"}`, `{"n":-0}`} {
		f.Add(seed, `7`)
	}
	f.Add(`{"q":"x"}`, `"id"`)
	f.Add(`{}`, `1 `)
	f.Add(`{}`, `"a\u0041"`)
	f.Fuzz(func(t *testing.T, args, id string) {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader([]byte(args)))
		d.UseNumber()
		if d.Decode(&m) != nil {
			return
		}
		in := minimalInput()
		in.MCP.Arguments = m
		if json.Valid([]byte(id)) {
			in.MCP.ID = json.RawMessage(id)
		}
		want, err := jsonValue(in)
		if err != nil {
			return // no JSON form (or one OPA cannot hold) to compare with
		}
		if got := inputValue(in); got.Compare(want) != 0 {
			t.Errorf("inputValue(args %s, id %s) = %v; want %v", args, id, got, want)
		}
	})
}

func BenchmarkInputValue(b *testing.B) {
	in := toolsCall("search_issues", "analyst")
	b.ReportAllocs()
	for b.Loop() {
		if v := inputValue(in); v == nil {
			b.Fatal("inputValue() = nil")
		}
	}
}
