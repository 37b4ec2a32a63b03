package config

import (
	"strings"
	"testing"
	"time"
)

const minting = minimal + `
token_minting:
  issuer: https://authz.example.test
  signing_key_files: [keys/a.pem, keys/b.pem]
upstream_token:
  mode: mint
`

func TestTokenDefaults(t *testing.T) {
	c, err := Parse([]byte(minting))
	if err != nil {
		t.Fatalf("Parse(minting) = %v", err)
	}
	u := c.HopUpstream(0)
	checks := []struct {
		name      string
		got, want any
	}{
		{"token_minting.algorithm", c.TokenMinting.Algorithm, "ES256"},
		{"token_minting.ttl", c.TokenMinting.TTL.D(), 60 * time.Second},
		{"token_minting.jwks_uri", c.TokenMinting.JWKSURI, "https://authz.example.test/.well-known/jwks.json"},
		{"upstream_token.mode", u.Mode, "mint"},
		{"upstream_token.audience", u.Audience, "https://mcp.example.test/mcp"},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
	d, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.HopUpstream(0).Mode; got != UpstreamModeNone {
		t.Errorf("default upstream_token.mode = %q; want none (passthrough until minting is configured)", got)
	}
	m, err := Parse([]byte(strings.Replace(minting, "upstream_token:\n  mode: mint\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.HopUpstream(0).Mode; got != UpstreamModeMint {
		t.Errorf("upstream_token.mode with token_minting and no mode = %q; want mint", got)
	}
}

func TestHopUpstreamInherits(t *testing.T) {
	c, err := Parse([]byte(`
resources:
  - path: /a/mcp
    resource: https://mcp.example.test/a/mcp
  - path: /b/mcp
    resource: https://mcp.example.test/b/mcp
    upstream_token: {audience: https://internal.example.test/b, scope: "b:all"}
  - path: /c/mcp
    resource: https://mcp.example.test/c/mcp
    upstream_token: {mode: none}
issuers:
  - issuer: https://auth.example.test
    jwks_file: keys/jwks.json
token_minting: {issuer: https://authz.example.test, signing_key_files: [k.pem], algorithm: EdDSA, ttl: 30s}
upstream_token: {mode: mint}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []UpstreamToken{
		{Mode: "mint", Audience: "https://mcp.example.test/a/mcp"},
		{Mode: "mint", Audience: "https://internal.example.test/b", Scope: "b:all"},
		{Mode: "none", Audience: "https://mcp.example.test/c/mcp"},
	}
	for i, w := range want {
		if got := c.HopUpstream(i); got != w {
			t.Errorf("HopUpstream(%d) = %+v; want %+v", i, got, w)
		}
	}
}

func TestTokenConfigErrors(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"mint without token_minting", "upstream_token: {mode: mint}", "upstream_token.mode: mint needs token_minting"},
		{"unknown mode", "upstream_token: {mode: forward}", `must be mint, exchange or none, got "forward"`},
		{"exchange without a token service", "upstream_token: {mode: exchange}", "exchange needs a token_exchange"},
		{"bad algorithm", "token_minting: {issuer: https://a.test, signing_key_files: [k], algorithm: RS256}", "token_minting.algorithm"},
		{"ttl over 5m", "token_minting: {issuer: https://a.test, signing_key_files: [k], ttl: 6m}", "token_minting.ttl"},
		{"no key files", "token_minting: {issuer: https://a.test}", "token_minting.signing_key_files"},
		{"relative issuer", "token_minting: {issuer: authz, signing_key_files: [k]}", "token_minting.issuer"},
		{"unknown key", "token_minting: {issuer: https://a.test, signing_key_files: [k], keys: [x]}", "token_minting.keys: unknown key"},
		{"bad scope", `upstream_token: {scope: "a\"b"}`, "upstream_token.scope"},
		{"http exchange endpoint", "token_exchange: {endpoint: http://sts.test/token, client_id: c}", "token_exchange.endpoint"},
		{"exchange without client", "token_exchange: {endpoint: https://sts.test/token}", "token_exchange.client_id"},
		{"exchange timeout", "token_exchange: {endpoint: https://sts.test/token, client_id: c, timeout: 1m}", "token_exchange.timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(minimal + tc.extra + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%s) error = %v; want %q", tc.name, err, tc.want)
			}
		})
	}
}
