package identity

import (
	"context"
	"crypto/rsa"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// The strict token profile (issue 9): one table per rule, each with the
// default refusing, the default accepting the well-formed token, and the
// issuer's knob relaxing exactly that rule.

// profileCase is one token presented to a one-issuer Verifier (issuer A)
// whose IssuerConfig is edited by issuer.
type profileCase struct {
	name       string
	issuer     func(*IssuerConfig)
	keys       []testKey // issuer A's key set; default: the RSA key of testdata
	token      func(t *testing.T, a testKey) string
	dpop       []string
	wantReason denial.Reason // "" for accept
	wantDetail string
}

// runProfile verifies each case's token at hop A as Bearer.
func runProfile(t *testing.T, tests []profileCase) {
	t.Helper()
	a := rsaKeyA(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = []testKey{a}
			}
			ic := IssuerConfig{Issuer: issuerA, JWKSFile: writeJWKS(t, keys...)}
			if tc.issuer != nil {
				tc.issuer(&ic)
			}
			clock := newClock()
			v, err := New(context.Background(), Config{Issuers: []IssuerConfig{ic}, Clock: clock.Now})
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			defer v.Close()
			r := Request{Authorization: bearer(tc.token(t, a)), DPoP: tc.dpop, Method: "POST", Path: "/mcp",
				Resource: resourceA, PublicOrigin: originA}
			p, err := v.Verify(context.Background(), r)
			reason, detail := reasonOf(err)
			if reason != tc.wantReason || (tc.wantDetail != "" && detail != tc.wantDetail) {
				t.Fatalf("Verify() = %q (%q), err %v; want %q (%q)", reason, detail, err, tc.wantReason, tc.wantDetail)
			}
			if tc.wantReason == "" && p == nil {
				t.Fatalf("Verify() = nil principal, nil error")
			}
		})
	}
}

// signed is a token of issuer A for hop A with the claims changed by kv.
func signed(kv ...any) func(*testing.T, testKey) string {
	return func(t *testing.T, a testKey) string { return sign(t, a, with(claimsFor(issuerA, resourceA), kv...)) }
}

func TestSubjectRequired(t *testing.T) {
	runProfile(t, []profileCase{
		{name: "sub present", token: signed()},
		{name: "sub absent", token: signed("sub", nil), wantReason: denial.TokenInvalid, wantDetail: detailNoSub},
		{name: "sub empty", token: signed("sub", ""), wantReason: denial.TokenInvalid, wantDetail: detailNoSub},
		{name: "sub a number", token: signed("sub", 42), wantReason: denial.TokenInvalid, wantDetail: detailNoSub},
		{name: "sub a list", token: signed("sub", []string{"alice"}), wantReason: denial.TokenInvalid, wantDetail: detailNoSub},
		{name: "sub null", token: signed("sub", []any(nil)), wantReason: denial.TokenInvalid, wantDetail: detailNoSub},
	})
}

func TestRequireClaims(t *testing.T) {
	all := func(ic *IssuerConfig) { ic.RequireClaims = []string{"client_id", "jti", "iat"} }
	full := signed("client_id", "client-1")
	runProfile(t, []profileCase{
		{name: "default requires none: no client_id, jti, iat", token: signed("jti", nil, "iat", nil)},
		{name: "all three present", issuer: all, token: full},
		{name: "client_id required, only azp", issuer: all, token: signed(),
			wantReason: denial.TokenInvalid, wantDetail: "missing client_id claim"},
		{name: "client_id required, empty", issuer: all, token: signed("client_id", ""),
			wantReason: denial.TokenInvalid, wantDetail: "missing client_id claim"},
		{name: "jti required, absent", issuer: all, token: signed("client_id", "c", "jti", nil),
			wantReason: denial.TokenInvalid, wantDetail: "missing jti claim"},
		{name: "jti required, a number", issuer: all, token: signed("client_id", "c", "jti", 7),
			wantReason: denial.TokenInvalid, wantDetail: "missing jti claim"},
		{name: "iat required, absent", issuer: all, token: signed("client_id", "c", "iat", nil),
			wantReason: denial.TokenInvalid, wantDetail: "missing iat claim"},
		{name: "only jti required, no client_id", issuer: func(ic *IssuerConfig) { ic.RequireClaims = []string{"jti"} }, token: signed()},
	})
}

func TestSingleAudience(t *testing.T) {
	multi := func(ic *IssuerConfig) { ic.AllowMultiAudience = true }
	runProfile(t, []profileCase{
		{name: "aud this hop, a string", token: signed()},
		{name: "aud this hop, a one-element list", token: signed("aud", []string{resourceA})},
		{name: "aud this hop twice", token: signed("aud", []string{resourceA, resourceA})},
		{name: "aud this hop and another", token: signed("aud", []string{resourceA, resourceB}),
			wantReason: denial.TokenInvalid, wantDetail: detailMultiAudience},
		{name: "aud another and this hop", token: signed("aud", []string{resourceB, resourceA}),
			wantReason: denial.TokenInvalid, wantDetail: detailMultiAudience},
		{name: "aud this hop and an empty string", token: signed("aud", []string{resourceA, ""}),
			wantReason: denial.TokenInvalid, wantDetail: detailMultiAudience},
		{name: "allow_multi_audience: this hop and another", issuer: multi, token: signed("aud", []string{resourceB, resourceA})},
		{name: "allow_multi_audience: still needs this hop", issuer: multi, token: signed("aud", []string{resourceB}),
			wantReason: denial.TokenInvalid, wantDetail: detailAudience},
	})
}

func TestKIDRequired(t *testing.T) {
	optional := func(ic *IssuerConfig) { ic.KIDOptional = true }
	noKID := func(alg string, k func(a testKey) any) func(*testing.T, testKey) string {
		return func(t *testing.T, a testKey) string {
			return mint(t, map[string]any{"alg": alg}, claimsFor(issuerA, resourceA), k(a))
		}
	}
	ec := newECKey(t, "ec-1")
	rsa2 := testKey{kid: "rsa-2", alg: "RS256", priv: rsaOther(t).(*rsa.PrivateKey)}
	byA := func(a testKey) any { return a.priv }
	byEC := func(testKey) any { return ec.priv }
	runProfile(t, []profileCase{
		{name: "kid present", token: signed()},
		{name: "no kid, single-key issuer", token: noKID("RS256", byA),
			wantReason: denial.TokenInvalid, wantDetail: detailNoKID},
		{name: "kid_optional: no kid, single-key issuer", issuer: optional, token: noKID("RS256", byA)},
		{name: "kid_optional: kid present still works", issuer: optional, token: signed()},
		{name: "kid_optional: no kid, two RSA keys", issuer: optional, keys: []testKey{rsaKeyA(t), rsa2},
			token: noKID("RS256", byA), wantReason: denial.TokenInvalid, wantDetail: detailKIDAmbiguous},
		{name: "kid_optional: no kid, one key per alg (RS256)", issuer: optional, keys: []testKey{rsaKeyA(t), ec},
			token: noKID("RS256", byA)},
		{name: "kid_optional: no kid, one key per alg (ES256)", issuer: optional, keys: []testKey{rsaKeyA(t), ec},
			token: noKID("ES256", byEC)},
		{name: "kid_optional: no kid, no key for the alg", issuer: optional, keys: []testKey{ec},
			token: noKID("RS256", byA), wantReason: denial.TokenInvalid, wantDetail: detailKIDAmbiguous},
		{name: "kid_optional: no kid, signed by a key outside the set", issuer: optional,
			token: noKID("RS256", func(testKey) any { return rsa2.priv }), wantReason: denial.TokenInvalid, wantDetail: detailSignature},
	})
}

func TestDPoPProofWithBearer(t *testing.T) {
	ignore := func(ic *IssuerConfig) { ic.DPoP.IgnoreProofWithBearer = true }
	holder := newECKey(t, "holder")
	proof := func(t *testing.T, a testKey) []string {
		return []string{dpopProof(t, holder, "POST", originA+"/mcp", sign(t, a, claimsFor(issuerA, resourceA)), "p1", t0)}
	}
	a := rsaKeyA(t)
	runProfile(t, []profileCase{
		{name: "Bearer without a DPoP header", token: signed()},
		{name: "Bearer with a DPoP header", token: signed(), dpop: proof(t, a),
			wantReason: denial.InvalidDPoPProof, wantDetail: detailProofWithBearer},
		{name: "Bearer with an empty DPoP header", token: signed(), dpop: []string{""},
			wantReason: denial.InvalidDPoPProof, wantDetail: detailProofWithBearer},
		{name: "ignore_proof_with_bearer: the proof is ignored", issuer: ignore, token: signed(), dpop: proof(t, a)},
		{name: "ignore_proof_with_bearer: a bound token as Bearer is still refused", issuer: ignore,
			token: signed("cnf", map[string]any{"jkt": jktOf(t, holder)}), dpop: proof(t, a),
			wantReason: denial.TokenInvalid, wantDetail: detailBoundAsBearer},
	})
}

func TestRolesClaimFormat(t *testing.T) {
	tests := []struct {
		name      string
		format    string
		roles     any // nil: absent
		want      []string
		wantError string
	}{
		{name: "array: a list of strings", roles: []string{"admin", "analyst"}, want: []string{"admin", "analyst"}},
		{name: "array: an empty list", roles: []string{}, want: []string{}},
		{name: "array: absent", want: nil},
		{name: "array: a string", roles: "admin", wantError: RolesInvalid},
		{name: "array: a space-separated string", roles: "admin analyst", wantError: RolesInvalid},
		{name: "array: a number", roles: 7, wantError: RolesInvalid},
		{name: "array: an object", roles: map[string]any{"admin": true}, wantError: RolesInvalid},
		{name: "array: a list holding a number", roles: []any{"admin", 1}, wantError: RolesInvalid},
		{name: "array: a nested list", roles: []any{[]string{"admin"}}, wantError: RolesInvalid},
		{name: "array: null", roles: []any(nil), wantError: RolesInvalid},
		{name: "string: one role", format: RolesString, roles: "admin", want: []string{"admin"}},
		{name: "string: a list", format: RolesString, roles: []string{"admin"}, wantError: RolesInvalid},
		{name: "string: empty", format: RolesString, roles: "", wantError: RolesInvalid},
		{name: "space_separated: two roles", format: RolesSpaceSeparated, roles: " admin  analyst ", want: []string{"admin", "analyst"}},
		{name: "space_separated: a list", format: RolesSpaceSeparated, roles: []string{"admin"}, wantError: RolesInvalid},
	}
	a := rsaKeyA(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.RolesClaimFormat = tc.format })
			claims := with(claimsFor(issuerA, resourceA), "roles", nil)
			if tc.roles != nil {
				claims["roles"] = tc.roles
			}
			p, err := f.v.Verify(context.Background(), Request{Authorization: bearer(sign(t, a, claims)), Resource: resourceA})
			if err != nil {
				t.Fatalf("Verify() = %v; want a principal (a roles claim never invalidates the token)", err)
			}
			if diff := cmp.Diff(tc.want, p.Roles); diff != "" || p.RolesError != tc.wantError {
				t.Errorf("Verify() roles %q, error %q; want %q, %q", p.Roles, p.RolesError, tc.want, tc.wantError)
			}
		})
	}
}

func TestProfileConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{name: "unknown roles format", edit: func(c *Config) { c.RolesClaimFormat = "csv" }},
		{name: "unknown required claim", edit: func(c *Config) { c.Issuers[0].RequireClaims = []string{"email"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSFile: "testdata/jwks.json"}}}
			tc.edit(&cfg)
			if v, err := New(context.Background(), cfg); err == nil {
				v.Close()
				t.Fatalf("New() = nil error; want a validation error")
			}
		})
	}
}
