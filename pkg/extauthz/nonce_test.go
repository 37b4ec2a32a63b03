package extauthz

import (
	"context"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// fixedNonces issues one known nonce.
type fixedNonces string

func (n fixedNonces) Issue() (string, error) { return string(n), nil }

// TestDPoPNonceOnChallenges: with nonces on, every DPoP challenge carries a
// fresh DPoP-Nonce (a bad proof, and the policy's dpop_required); other
// denials and nonces off carry none.
func TestDPoPNonceOnChallenges(t *testing.T) {
	dpopRequired := policy.Decision{Reason: "dpop_required", HTTPStatus: 401,
		Challenge: &policy.Challenge{Scheme: "DPoP", Error: "invalid_token"}}
	tests := []struct {
		name   string
		nonces NonceIssuer
		d      policy.Decision
		scheme string
		want   string
	}{
		{"bad proof", fixedNonces("n-1"), allowDecision, "DPoP", "n-1"},
		{"policy dpop_required", fixedNonces("n-2"), dpopRequired, "Bearer", "n-2"},
		{"policy deny without challenge", fixedNonces("n-3"), policy.Decision{Reason: "tool_not_allowed"}, "Bearer", ""},
		{"nonces off", nil, dpopRequired, "Bearer", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, &fakeDecider{d: tt.d}, func(o *Options) { o.DPoPNonces = tt.nonces })
			spec := baseSpec(mint(t, nil))
			// A DPoP-bound token without a DPoP header is a bad proof.
			spec.headers["authorization"] = tt.scheme + " " + mint(t, map[string]any{"cnf": map[string]any{"jkt": "AAAA"}})
			if tt.scheme == "Bearer" {
				spec.headers["authorization"] = "Bearer " + mint(t, nil)
			}
			resp, err := s.Check(context.Background(), spec.build())
			if err != nil {
				t.Fatal(err)
			}
			v := viewDenied(t, resp)
			if got := v.headers[NonceHeader]; got != tt.want {
				t.Errorf("%s = %q; want %q", NonceHeader, got, tt.want)
			}
			if tt.want != "" && v.status != 401 {
				t.Errorf("deny %d %q; want a 401 challenge", v.status, v.reason)
			}
		})
	}
}
