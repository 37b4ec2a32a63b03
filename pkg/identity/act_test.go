package identity

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestActChain(t *testing.T) {
	deep := strings.Repeat(`{"sub":"a","act":`, maxActDepth) + `{"sub":"z"}` + strings.Repeat("}", maxActDepth)
	tests := []struct {
		name    string
		claims  string
		want    []Actor
		wantMay *Actor
		wantErr bool
	}{
		{"none", `{}`, nil, nil, false},
		{"one", `{"act":{"sub":"spiffe://c/ns/a/sa/planner"}}`, []Actor{{Subject: "spiffe://c/ns/a/sa/planner"}}, nil, false},
		{"nested, outermost first", `{"act":{"sub":"b","iss":"https://i","act":{"sub":"a","client_id":"c"}}}`,
			[]Actor{{Subject: "b", Issuer: "https://i"}, {Subject: "a", ClientID: "c"}}, nil, false},
		{"may_act", `{"may_act":{"sub":"spiffe://c/ns/a/sa/planner"}}`, nil, &Actor{Subject: "spiffe://c/ns/a/sa/planner"}, false},
		{"act not an object", `{"act":"b"}`, nil, nil, true},
		{"act without sub", `{"act":{"iss":"https://i"}}`, nil, nil, true},
		{"act sub a number", `{"act":{"sub":1}}`, nil, nil, true},
		{"nested act null", `{"act":{"sub":"b","act":null}}`, nil, nil, true},
		{"deeper than the bound", `{"act":` + deep + `}`, nil, nil, true},
		{"may_act a list", `{"may_act":[{"sub":"x"}]}`, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var claims map[string]any
			if err := json.Unmarshal([]byte(tc.claims), &claims); err != nil {
				t.Fatal(err)
			}
			got, err := actChain(claims)
			var may *Actor
			if err == nil {
				may, err = mayAct(claims)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("actChain/mayAct(%s) error = %v; want error %v", tc.claims, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("actChain(%s) (-want +got):\n%s", tc.claims, diff)
			}
			if diff := cmp.Diff(tc.wantMay, may); diff != "" {
				t.Errorf("mayAct(%s) (-want +got):\n%s", tc.claims, diff)
			}
		})
	}
}
