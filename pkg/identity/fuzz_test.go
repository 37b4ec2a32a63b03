package identity

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// FuzzVerify feeds arbitrary Authorization values to Verify. Invariants:
// a failure is a *denial.Error with a token reason and a fixed detail that
// never echoes input; a success carries, byte for byte, one of the tokens
// this test signed (nothing can be forged by mutation), with this hop in
// aud and a configured issuer.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, nil)
	ca := claimsFor(issuerA, resourceA)
	valid := []string{
		sign(f, fx.a, ca),
		sign(f, fx.a, with(ca, "roles", "analyst", "aud", []string{resourceB, resourceA})),
		mint(f, map[string]any{"alg": "ES256", "kid": kidB, "typ": "at+jwt"}, claimsFor(issuerB, resourceA), fx.b.priv),
	}
	for _, tok := range valid {
		f.Add("Bearer " + tok)
		f.Add("DPoP " + tok)
	}
	parts := strings.Split(valid[0], ".")
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Basic abc", "bearer  " + valid[0], "Bearer " + valid[0] + ".x",
		"Bearer " + b64JSON(f, map[string]any{"alg": "none"}) + "." + parts[1] + ".",
		"Bearer " + `{"payload":"` + parts[1] + `"}`,
		"Bearer " + parts[0] + "." + b64JSON(f, with(ca, "exp", 0)) + "." + parts[2],
	} {
		f.Add(seed)
	}
	allowed := []denial.Reason{denial.TokenMissing, denial.TokenInvalid, denial.InvalidDPoPProof, denial.IssuerUnavailable}
	f.Fuzz(func(t *testing.T, authz string) {
		r := Request{Authorization: []string{authz}, Method: "POST", Path: "/mcp", Resource: resourceA, PublicOrigin: originA}
		p, err := fx.v.Verify(context.Background(), r)
		if err != nil {
			reason, detail := reasonOf(err)
			if !slices.Contains(allowed, reason) || detail == "" {
				t.Fatalf("Verify(%q) = %v (%q, %q); want a token denial with a detail", authz, err, reason, detail)
			}
			if len(authz) >= 8 && strings.Contains(detail, authz) {
				t.Fatalf("Verify(%q) detail %q echoes input", authz, detail)
			}
			return
		}
		_, tok, _ := strings.Cut(authz, " ")
		if !slices.Contains(valid, strings.TrimLeft(tok, " ")) {
			t.Fatalf("Verify(%q) accepted a token this test never signed: %+v", authz, p)
		}
		if !slices.Contains(p.Audience, resourceA) || (p.Issuer != issuerA && p.Issuer != issuerB) {
			t.Fatalf("Verify(%q) = %+v; want aud with %q and a configured issuer", authz, p, resourceA)
		}
	})
}
