package decisionlog

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type maskCase struct {
	Name   string         `json:"name"`
	Args   map[string]any `json:"args"`
	Rules  []any          `json:"rules"`
	Want   map[string]any `json:"want"`
	Erased []string       `json:"erased"`
	Masked []string       `json:"masked"`
}

func TestApply(t *testing.T) {
	b, err := os.ReadFile("testdata/mask_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []maskCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			rules, err := ParseMaskRules(tc.Rules)
			if err != nil {
				t.Fatalf("ParseMaskRules: %v", err)
			}
			before, _ := json.Marshal(tc.Args)
			got, erased, masked := Apply(tc.Args, rules)
			if diff := cmp.Diff(tc.Want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Apply arguments (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.Erased, erased, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Apply erased (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.Masked, masked, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Apply masked (-want +got):\n%s", diff)
			}
			if after, _ := json.Marshal(tc.Args); string(after) != string(before) {
				t.Errorf("Apply modified its input: %s; want %s", after, before)
			}
		})
	}
}

func TestParseMaskRulesRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  any
	}{
		{"not a list", map[string]any{}},
		{"outside arguments", []any{"/input/password"}},
		{"unknown op", []any{map[string]any{"op": "add", "path": "/arguments/x"}}},
		{"unknown key", []any{map[string]any{"op": "remove", "path": "/arguments/x", "extra": 1}}},
		{"bad escape", []any{"/arguments/a~2"}},
		{"number", []any{1.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseMaskRules(tc.raw); err == nil {
				t.Errorf("ParseMaskRules(%v) = nil error; want an error", tc.raw)
			}
		})
	}
}

func FuzzParseMaskRules(f *testing.F) {
	for _, s := range []string{`["/arguments/a"]`, `[{"op":"upsert","path":"/arguments/a/0","value":1}]`, `["/arguments"]`} {
		f.Add(s, `{"a":[1,{"b":2}]}`)
	}
	f.Fuzz(func(t *testing.T, rules, args string) {
		var raw any
		var a map[string]any
		if json.Unmarshal([]byte(rules), &raw) != nil || json.Unmarshal([]byte(args), &a) != nil {
			return
		}
		rs, err := ParseMaskRules(raw)
		if err != nil {
			return
		}
		before, _ := json.Marshal(a)
		out, erased, _ := Apply(a, rs)
		if after, _ := json.Marshal(a); string(after) != string(before) {
			t.Fatalf("Apply modified its input")
		}
		if out == nil && (len(erased) != 1 || erased[0] != ArgumentsPointer) {
			t.Fatalf("arguments gone but erased = %v", erased)
		}
	})
}
