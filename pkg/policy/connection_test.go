package policy

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestDecodeConnectionFields(t *testing.T) {
	cases := []struct {
		name, term string
		ok         bool
	}{
		{"needs", `{"allow": false, "reason": "connection_required", "needs_connection": {"provider": "mail", "scopes": ["mail.read"]}}`, true},
		{"needs without scopes", `{"allow": false, "reason": "connection_required", "needs_connection": {"provider": "mail"}}`, true},
		{"needs without provider", `{"allow": false, "reason": "x", "needs_connection": {"scopes": []}}`, false},
		{"needs unknown field", `{"allow": false, "reason": "x", "needs_connection": {"provider": "mail", "token": "t"}}`, false},
		{"needs bad provider", `{"allow": false, "reason": "x", "needs_connection": {"provider": "Mail Box"}}`, false},
		{"needs bad scope", `{"allow": false, "reason": "x", "needs_connection": {"provider": "mail", "scopes": ["a b"]}}`, false},
		{"connections", `{"allow": true, "reason": "allowed", "connections": ["mail", "crm"]}`, true},
		{"connections not array", `{"allow": true, "reason": "allowed", "connections": "mail"}`, false},
		{"connections bad name", `{"allow": true, "reason": "allowed", "connections": ["../x"]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := decodeDecision(ast.MustParseTerm(tc.term).Value)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && tc.name == "needs" && (d.NeedsConnection.Provider != "mail" || d.NeedsConnection.Scopes[0] != "mail.read") {
				t.Fatalf("decoded %+v", d.NeedsConnection)
			}
		})
	}
}
