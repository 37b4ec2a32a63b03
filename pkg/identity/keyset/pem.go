package keyset

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ErrNotPublicKey refuses a PEM document that holds no public key.
var ErrNotPublicKey = errors.New("not a PEM public key")

// PublicPEM applies the package's rules to one PEM public key that must
// verify signatures of alg (e.g. a signed bundle's verification key): a
// PEM holding a private key (any "PRIVATE KEY" block) or no PEM at all (an
// HMAC secret, which is symmetric) is refused, as are weak RSA keys,
// unsupported curves and a key that does not fit alg.
func PublicPEM(doc []byte, alg string) (any, error) {
	var pub any
	for rest := doc; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return nil, fmt.Errorf("%w: a %q block", ErrPrivateMaterial, b.Type)
		}
		if b.Type == "PUBLIC KEY" && pub == nil {
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: the PUBLIC KEY block does not parse", ErrNotPublicKey)
			}
			pub = k
		}
	}
	if pub == nil {
		return nil, fmt.Errorf("%w: no PUBLIC KEY block (HMAC secrets are not accepted: anyone who can read one can sign)", ErrNotPublicKey)
	}
	if reason, detail := strength(pub, alg); reason != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrNoUsableKey, reason, detail)
	}
	if !Fits(pub, alg) {
		return nil, fmt.Errorf("%w: %s: alg %.16q does not fit the key", ErrNoUsableKey, SkipAlg, alg)
	}
	return pub, nil
}
