// Package keyset decides which keys of a published public key set may be
// trusted. Every public key set mcp-authz loads goes through it: issuers' JWK
// Sets (from a file or fetched), bundle verification keys, and any key set a
// later feature fetches (use Parse for a JWK Set, PublicPEM for one PEM key).
//
// The rules, in order:
//
//   - A set that publishes private key material for any key (an RSA, EC or
//     OKP private member d, p, q, dp, dq, qi or oth, or a symmetric key's k)
//     is refused as a whole (ErrPrivateMaterial): its endpoint is
//     misconfigured or compromised, every key it serves is suspect, and
//     anyone who read it can forge tokens with that key.
//   - A key that cannot serve is skipped and reported in Set.Skipped with a
//     stable reason: an unknown kty, use other than sig, key_ops without
//     verify, an RSA modulus below 2048 bits, a curve we do not verify, an
//     alg that is not an asymmetric signature algorithm or does not fit the
//     key, or a member jwx cannot parse. One stale key is not an outage.
//   - Two usable keys with the same kid make that kid unusable: which key a
//     token names would otherwise depend on list order.
//   - A set left with no usable key is refused (ErrNoUsableKey), so a bad
//     fetch never replaces a good set.
//
// Errors never quote key material or library text (pkg/redact): they name
// the key's index, its kid and the member or rule at fault.
package keyset

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcp-authz/mcp-authz/pkg/redact"
)

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// MaxKeys bounds the keys read from one set; the rest are skipped.
const MaxKeys = 100

var (
	// ErrPrivateMaterial refuses a whole set that publishes a private or
	// symmetric key.
	ErrPrivateMaterial = errors.New("key set publishes private key material")
	// ErrNoUsableKey refuses a set with no key that may verify a signature.
	ErrNoUsableKey = errors.New("no usable signature key in the set")
	// ErrMalformed refuses a document that is not a JWK Set.
	ErrMalformed = errors.New("not a JWK Set")
)

// privateMembers are the JWK members (RFC 7518 section 6) that only a
// private or symmetric key has.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Reasons a key is skipped: stable codes for logs and the skipped-keys
// metric label.
const (
	SkipUnknownKty  = "unknown_kty"
	SkipNotSig      = "use_not_sig"
	SkipNoVerify    = "key_ops_without_verify"
	SkipWeak        = "too_weak"
	SkipCurve       = "unsupported_curve"
	SkipAlg         = "alg_not_usable"
	SkipMalformed   = "malformed_key"
	SkipDuplicate   = "duplicate_kid"
	SkipOverLimit   = "over_key_limit"
	reasonMalformed = "key_set_malformed"
)

// Key is one usable public signature key.
type Key struct {
	// KID is the key's kid ("" when absent).
	KID string
	// Alg is the key's alg ("" when absent: any algorithm of its family).
	Alg string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public any
	index  int
}

// Skipped is one key of a set that cannot serve, and why.
type Skipped struct {
	// Index is the key's position in the set.
	Index int
	// KID is the key's kid ("" when absent).
	KID string
	// Reason is a stable code (the Skip* constants).
	Reason string
	// Detail says more, without key material.
	Detail string
}

// String describes s for a log line.
func (s Skipped) String() string {
	return fmt.Sprintf("key %d (kid %.64q): %s: %s", s.Index, s.KID, s.Reason, s.Detail)
}

// Set is the trusted part of a key set.
type Set struct {
	// Keys are the usable keys, in the set's order.
	Keys []Key
	// Skipped are the keys left out, in the set's order.
	Skipped []Skipped
}

// Parse applies the package's rules to a JWK Set document.
func Parse(doc []byte) (*Set, error) {
	var top struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, redact.Wrap(reasonMalformed, err))
	}
	if top.Keys == nil {
		return nil, fmt.Errorf("%w: no \"keys\" array", ErrMalformed)
	}
	if err := refusePrivate(top.Keys); err != nil {
		return nil, err
	}
	s := &Set{}
	for i, raw := range top.Keys {
		if i >= MaxKeys {
			s.Skipped = append(s.Skipped, Skipped{Index: i, Reason: SkipOverLimit, Detail: fmt.Sprintf("only the first %d keys are read", MaxKeys)})
			continue
		}
		k, skip := parseKey(i, raw)
		if skip != nil {
			s.Skipped = append(s.Skipped, *skip)
			continue
		}
		s.Keys = append(s.Keys, k)
	}
	s.dropDuplicateKIDs()
	if len(s.Keys) == 0 {
		return nil, fmt.Errorf("%w (%d skipped: %s)", ErrNoUsableKey, len(s.Skipped), skippedSummary(s.Skipped))
	}
	return s, nil
}

// refusePrivate fails when any key carries a private or symmetric member.
func refusePrivate(keys []json.RawMessage) error {
	for i, raw := range keys {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			continue // not an object: skipped later as malformed
		}
		var found []string
		for _, name := range privateMembers {
			if _, ok := m[name]; ok {
				found = append(found, name)
			}
		}
		if len(found) > 0 {
			return fmt.Errorf("%w: key %d (kid %.64q) has %s", ErrPrivateMaterial, i, kidOf(m), strings.Join(found, ", "))
		}
	}
	return nil
}

// kidOf reads the kid member of a raw key ("" when absent or not a string).
func kidOf(m map[string]json.RawMessage) string {
	var kid string
	_ = json.Unmarshal(m["kid"], &kid)
	return kid
}

// parseKey applies the per-key rules to key i.
func parseKey(i int, raw json.RawMessage) (Key, *Skipped) {
	skip := func(reason, format string, a ...any) (Key, *Skipped) {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		return Key{}, &Skipped{Index: i, KID: kidOf(m), Reason: reason, Detail: fmt.Sprintf(format, a...)}
	}
	var hdr struct {
		Kty string `json:"kty"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return skip(SkipMalformed, "not a JSON object")
	}
	switch hdr.Kty {
	case "RSA", "EC", "OKP":
	default:
		return skip(SkipUnknownKty, "kty %.16q", hdr.Kty)
	}
	k, err := jwk.ParseKey(bytes.Clone(raw))
	if err != nil {
		return skip(SkipMalformed, "%s key does not parse", hdr.Kty)
	}
	if reason, detail := usage(k); reason != "" {
		return skip(reason, "%s", detail)
	}
	pub, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return skip(SkipMalformed, "no public key")
	}
	alg := ""
	if a := k.Algorithm(); a != nil {
		alg = a.String()
	}
	if reason, detail := strength(pub, alg); reason != "" {
		return skip(reason, "%s", detail)
	}
	return Key{KID: k.KeyID(), Alg: alg, Public: pub, index: i}, nil
}

// usage refuses encryption keys and keys whose key_ops exclude verify.
func usage(k jwk.Key) (reason, detail string) {
	if use := k.KeyUsage(); use != "" && use != "sig" {
		return SkipNotSig, fmt.Sprintf("use %.16q", use)
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return SkipNoVerify, "key_ops does not include verify"
	}
	return "", ""
}

// strength refuses weak RSA, unsupported curves and an alg that does not
// fit the key.
func strength(pub any, alg string) (reason, detail string) {
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		if n := pk.N.BitLen(); n < MinRSABits {
			return SkipWeak, fmt.Sprintf("RSA key of %d bits is below %d", n, MinRSABits)
		}
	case *ecdsa.PublicKey:
		if CurveAlg(pk.Curve) == "" {
			return SkipCurve, "unsupported elliptic curve"
		}
	case ed25519.PublicKey:
	default:
		return SkipCurve, "not a signature key (OKP keys must be Ed25519)"
	}
	if alg != "" && !Fits(pub, alg) {
		return SkipAlg, fmt.Sprintf("alg %.16q does not fit the key", alg)
	}
	return "", ""
}

// Fits reports whether a signature of the JWS algorithm alg can be made by
// pub's private key: the family (and, for EC, the curve) must match.
func Fits(pub any, alg string) bool {
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		return CurveAlg(pk.Curve) == alg
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// CurveAlg is the ES algorithm bound to an elliptic curve, "" if none.
func CurveAlg(c elliptic.Curve) string {
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

// dropDuplicateKIDs moves every key whose non-empty kid is shared by
// another usable key to Skipped.
func (s *Set) dropDuplicateKIDs() {
	count := map[string]int{}
	for _, k := range s.Keys {
		if k.KID != "" {
			count[k.KID]++
		}
	}
	kept := s.Keys[:0]
	for _, k := range s.Keys {
		if count[k.KID] > 1 {
			s.Skipped = append(s.Skipped, Skipped{Index: k.index, KID: k.KID, Reason: SkipDuplicate,
				Detail: fmt.Sprintf("%d signature keys share this kid", count[k.KID])})
			continue
		}
		kept = append(kept, k)
	}
	s.Keys = kept
}

// skippedSummary lists the skipped keys' reasons for an error message.
func skippedSummary(sk []Skipped) string {
	if len(sk) == 0 {
		return "the set is empty"
	}
	parts := make([]string, 0, min(len(sk), 5))
	for _, s := range sk[:min(len(sk), 5)] {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, "; ")
}
