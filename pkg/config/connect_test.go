package config

import (
	"strings"
	"testing"
)

const connectBase = `
resource: https://mcp.example.test/mcp
issuers: [{issuer: https://auth.example.test, jwks_file: k.json}]
`

func TestConnectConfig(t *testing.T) {
	cases := []struct {
		name, yaml, wantErr string
	}{
		{"ok embedded", `
providers: [{name: mail, issuer: https://mail.example}]
providers_ignored: x`, "providers_ignored"},
		{"ok", `
providers: [{name: mail, issuer: https://mail.example, client_id: c}]
connect: {client_id: mcp-authz, state_dir: /tmp/s, encryption_key_file: /k}`, ""},
		{"needs key and store", `
providers: [{name: mail, kind: api_key}]
connect: {client_id: c}`, "connect.encryption_key_file"},
		{"needs endpoints", `
providers: [{name: mail, client_id: c}]
connect: {client_id: c, state_dir: /s, encryption_key_file: /k}`, "oauth2 needs issuer"},
		{"reserved header", `
providers: [{name: mail, kind: api_key, header: authorization}]
connect: {client_id: c, state_dir: /s, encryption_key_file: /k}`, "providers[0].header"},
		{"duplicate name", `
providers: [{name: mail, kind: api_key}, {name: mail, kind: api_key}]
connect: {client_id: c, state_dir: /s, encryption_key_file: /k}`, "providers[1].name"},
		{"bad kind", `
providers: [{name: mail, kind: password}]
connect: {client_id: c, state_dir: /s, encryption_key_file: /k}`, "providers[0].kind"},
		{"redis instead of state_dir", `
providers: [{name: mail, kind: api_key}]
connect: {client_id: c, redis: {addr: "127.0.0.1:6379"}, encryption_key_file: /k}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(connectBase + tc.yaml))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				p := cfg.Providers[0]
				if p.Header != "x-mcp-connection-mail" || cfg.Connect.LoginIssuer != "https://auth.example.test" ||
					cfg.Connect.BaseURL != "https://mcp.example.test" {
					t.Fatalf("defaults: %+v %+v", p, cfg.Connect)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error naming %q, got %v", tc.wantErr, err)
			}
		})
	}
}
