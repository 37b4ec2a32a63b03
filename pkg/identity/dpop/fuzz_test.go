package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// knownDetails are the only details Check may return for a bad proof.
var knownDetails = map[string]bool{
	detailMalformed: true, detailTyp: true, detailAlg: true, detailHeader: true, detailKey: true,
	detailSignature: true, detailClaims: true, detailJTI: true, detailHTM: true, detailHTU: true,
	detailIAT: true, detailATH: true, detailJKT: true, detailReplay: true,
}

// FuzzCheck feeds Check mutated proofs, seeded from TestCheck's table, for a
// token bound to a key whose private half is discarded. No input can be a
// valid proof for it, so every call must be refused as InvalidDPoPProof
// with one of the fixed details, and none may panic.
func FuzzCheck(f *testing.F) {
	k := keys(f)
	for _, tc := range checkCases() {
		f.Add(tc.build(f, k).Proof)
	}
	f.Add(readProof(f, "rfc9449-7.1-resource-request.jwt"))
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatalf("GenerateKey = %v", err)
	}
	unreachable, err := newSigner(jwa.ES256, priv)
	if err != nil {
		f.Fatalf("newSigner = %v", err)
	}
	c := newTestChecker(f, Options{}, nil)
	f.Fuzz(func(t *testing.T, proof string) {
		err := c.Check(Params{Proof: proof, Method: "POST", URL: testURL, AccessToken: testToken, JKT: unreachable.jkt})
		var d *denial.Error
		if !errors.As(err, &d) || d.Reason != denial.InvalidDPoPProof || !knownDetails[d.Detail] {
			t.Fatalf("Check(%q) = %v; want %s with a fixed detail", proof, err, denial.InvalidDPoPProof)
		}
	})
}
