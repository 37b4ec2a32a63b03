package identity

import (
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
)

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

// newKeySet indexes the keys keyset.Parse found usable.
func newKeySet(set *keyset.Set, fetchedAt time.Time) *keySet {
	ks := &keySet{byKID: map[string][]verifyKey{}, fetchedAt: fetchedAt}
	for _, k := range set.Keys {
		vk := verifyKey{kid: k.KID, alg: k.Alg, raw: k.Public}
		ks.all = append(ks.all, vk)
		ks.byKID[vk.kid] = append(ks.byKID[vk.kid], vk)
	}
	return ks
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
	return (k.alg == "" || k.alg == alg) && keyset.Fits(k.raw, alg)
}

// keysOf is the number of usable keys of ks (0 for nil).
func keysOf(ks *keySet) int {
	if ks == nil {
		return 0
	}
	return len(ks.all)
}
