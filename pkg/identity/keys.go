package identity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// minRSABits is the smallest RSA modulus accepted in a key set.
const minRSABits = 2048

// maxKeysPerSet bounds the keys taken from one JWK Set.
const maxKeysPerSet = 100

// verifyKey is one usable public key of an issuer.
type verifyKey struct {
	kid string
	alg string // the JWK's alg, "" when absent
	raw any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keySet is an immutable, indexed view of an issuer's usable keys and the
// (injected-clock) time it was fetched.
type keySet struct {
	byKID     map[string][]verifyKey
	all       []verifyKey
	fetchedAt time.Time
}

// newKeySet keeps the public, asymmetric signature keys of set. It fails
// when none is usable, so a bad fetch never replaces a good set.
func newKeySet(set jwk.Set, fetchedAt time.Time) (*keySet, error) {
	ks := &keySet{byKID: map[string][]verifyKey{}, fetchedAt: fetchedAt}
	var skipped []error
	for i := range min(set.Len(), maxKeysPerSet) {
		k, _ := set.Key(i)
		vk, err := usableKey(k)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, k.KeyID(), err))
			continue
		}
		ks.all = append(ks.all, vk)
		ks.byKID[vk.kid] = append(ks.byKID[vk.kid], vk)
	}
	if len(ks.all) == 0 {
		return nil, fmt.Errorf("no usable signature key in the set: %w", errors.Join(skipped...))
	}
	return ks, nil
}

// usableKey converts k to a verifyKey, refusing symmetric keys, encryption
// keys, keys not allowed to verify, weak RSA and unsupported curves. A
// private key contributes only its public part.
func usableKey(k jwk.Key) (verifyKey, error) {
	if use := k.KeyUsage(); use != "" && use != "sig" {
		return verifyKey{}, fmt.Errorf("use %q is not sig", use)
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return verifyKey{}, errors.New("key_ops does not include verify")
	}
	raw, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return verifyKey{}, fmt.Errorf("public key: %w", err)
	}
	switch pk := raw.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < minRSABits {
			return verifyKey{}, fmt.Errorf("RSA key of %d bits is below %d", pk.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if curveAlg(pk.Curve) == "" {
			return verifyKey{}, errors.New("unsupported elliptic curve")
		}
	case ed25519.PublicKey:
	default:
		return verifyKey{}, fmt.Errorf("key type %q is not an asymmetric signature key", k.KeyType())
	}
	alg := ""
	if a := k.Algorithm(); a != nil {
		alg = a.String()
	}
	return verifyKey{kid: k.KeyID(), alg: alg, raw: raw}, nil
}

// candidates returns the keys that may have signed a token with header kid
// and alg. Without a kid only a single-key set can answer.
func (ks *keySet) candidates(kid, alg string) []verifyKey {
	var pool []verifyKey
	switch {
	case kid != "":
		pool = ks.byKID[kid]
	case len(ks.all) == 1:
		pool = ks.all
	}
	var out []verifyKey
	for _, k := range pool {
		if keyFits(k, alg) {
			out = append(out, k)
		}
	}
	return out
}

// keyFits reports whether alg can be verified with k: the key family and
// curve match alg, and the JWK's own alg (when present) equals it.
func keyFits(k verifyKey, alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pk := k.raw.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return curveAlg(pk.Curve) == alg
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// curveAlg is the ES algorithm bound to an elliptic curve, "" if none.
func curveAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// parseKeySet parses a JWK Set document, skipping keys jwx cannot parse.
func parseKeySet(buf []byte, fetchedAt time.Time) (*keySet, error) {
	set, err := jwk.Parse(buf, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("parse JWK Set: %w", err)
	}
	return newKeySet(set, fetchedAt)
}

// keysOf is the number of usable keys of ks (0 for nil).
func keysOf(ks *keySet) int {
	if ks == nil {
		return 0
	}
	return len(ks.all)
}
