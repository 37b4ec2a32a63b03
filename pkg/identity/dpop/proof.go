package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// typDPoP is the required JOSE typ of a proof (RFC 9449 §4.2).
const typDPoP = "dpop+jwt"

// minRSABits is the smallest RSA modulus accepted in a proof key.
const minRSABits = 2048

// privateMembers are JWK members that only private or symmetric keys carry
// (RFC 7518 §6.2.2, §6.3.2, §6.4.1, RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// proof is a DPoP proof whose signature has been verified.
type proof struct {
	claims     claims
	thumbprint []byte // RFC 7638 SHA-256 thumbprint of the header jwk
	jkt        string // thumbprint, base64url without padding
}

// verify checks the shape, header and signature of raw and returns its
// claims and key thumbprint. The proof is parsed once; the signature is
// checked over the signing input exactly as received (RFC 7515 §5.2).
func (c *Checker) verify(raw string) (proof, error) {
	if err := checkCompact(raw); err != nil {
		return proof{}, invalid(detailMalformed, err)
	}
	msg, err := jws.Parse([]byte(raw), jws.WithCompact())
	if err != nil {
		return proof{}, invalid(detailMalformed, fmt.Errorf("dpop: parse proof: %w", err))
	}
	sig := msg.Signatures()[0] // the compact form has exactly one
	alg, key, err := c.header(sig.ProtectedHeaders())
	if err != nil {
		return proof{}, err
	}
	if err := verifySignature(alg, key, raw[:strings.LastIndexByte(raw, '.')], sig.Signature()); err != nil {
		return proof{}, invalid(detailSignature, err)
	}
	cl, err := decodeClaims(msg.Payload())
	if err != nil {
		return proof{}, invalid(detailClaims, err)
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return proof{}, invalid(detailKey, fmt.Errorf("dpop: thumbprint proof key: %w", err))
	}
	return proof{claims: cl, thumbprint: tp, jkt: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// verifySignature checks signature over signingInput with alg and key.
func verifySignature(alg jwa.SignatureAlgorithm, key jwk.Key, signingInput string, signature []byte) error {
	v, err := jws.NewVerifier(alg)
	if err != nil {
		return fmt.Errorf("dpop: verifier for %s: %w", alg, err)
	}
	if err := v.Verify([]byte(signingInput), signature, key); err != nil {
		return fmt.Errorf("dpop: verify proof signature: %w", err)
	}
	return nil
}

// checkCompact checks that raw is bounded and has exactly three non-empty
// base64url (unpadded) segments, so nothing else reaches the JWS parser.
func checkCompact(raw string) error {
	if len(raw) > MaxProofBytes {
		return fmt.Errorf("dpop: proof of %d bytes exceeds %d", len(raw), MaxProofBytes)
	}
	segments := strings.Split(raw, ".")
	if len(segments) != 3 {
		return fmt.Errorf("dpop: proof has %d segments; want 3", len(segments))
	}
	for i, s := range segments {
		if s == "" || len(s)%4 == 1 || strings.IndexFunc(s, notBase64URL) >= 0 {
			return fmt.Errorf("dpop: proof segment %d is not base64url", i+1)
		}
	}
	return nil
}

// notBase64URL reports whether r is outside the unpadded base64url alphabet.
func notBase64URL(r rune) bool {
	return (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_'
}

// header checks the protected header and returns the algorithm and the
// public key to verify the signature with.
func (c *Checker) header(h jws.Headers) (jwa.SignatureAlgorithm, jwk.Key, error) {
	if h.Type() != typDPoP {
		return "", nil, invalid(detailTyp, fmt.Errorf("dpop: typ %q", h.Type()))
	}
	alg := h.Algorithm()
	if !c.algs[alg.String()] {
		return "", nil, invalid(detailAlg, fmt.Errorf("dpop: alg %q is not allowed", alg))
	}
	if len(h.Critical()) > 0 {
		return "", nil, invalid(detailHeader, errors.New("dpop: crit header present"))
	}
	if _, ok := h.Get("b64"); ok {
		return "", nil, invalid(detailHeader, errors.New("dpop: b64 header present"))
	}
	key := h.JWK()
	if err := checkPublicKey(key, alg); err != nil {
		return "", nil, invalid(detailKey, err)
	}
	return alg, key, nil
}

// checkPublicKey checks that key is present, public, and of the type and
// size alg requires.
func checkPublicKey(key jwk.Key, alg jwa.SignatureAlgorithm) error {
	if key == nil {
		return errors.New("dpop: jwk header missing")
	}
	for _, m := range privateMembers {
		if _, ok := key.Get(m); ok {
			return fmt.Errorf("dpop: jwk carries private member %q", m)
		}
	}
	switch k := key.(type) {
	case jwk.RSAPublicKey:
		if !strings.HasPrefix(alg.String(), "RS") && !strings.HasPrefix(alg.String(), "PS") {
			return fmt.Errorf("dpop: RSA key used with %s", alg)
		}
		if bits := rsaBits(k.N()); bits < minRSABits {
			return fmt.Errorf("dpop: RSA key of %d bits; want at least %d", bits, minRSABits)
		}
	case jwk.ECDSAPublicKey:
		if want := curveFor[alg]; want == "" || k.Crv() != want {
			return fmt.Errorf("dpop: EC key on %s used with %s", k.Crv(), alg)
		}
		if err := checkOnCurve(k); err != nil {
			return err
		}
	case jwk.OKPPublicKey:
		if alg != jwa.EdDSA || k.Crv() != jwa.Ed25519 {
			return fmt.Errorf("dpop: OKP key on %s used with %s", k.Crv(), alg)
		}
	default:
		return fmt.Errorf("dpop: jwk of type %s is not an asymmetric public key", key.KeyType())
	}
	if err := key.Validate(); err != nil {
		return fmt.Errorf("dpop: validate jwk: %w", err)
	}
	return nil
}

// checkOnCurve checks that k is a valid point on its curve (crypto/ecdsa's
// ECDH conversion refuses anything else).
func checkOnCurve(k jwk.ECDSAPublicKey) error {
	var pub ecdsa.PublicKey
	if err := k.Raw(&pub); err != nil {
		return fmt.Errorf("dpop: EC jwk: %w", err)
	}
	if _, err := pub.ECDH(); err != nil {
		return fmt.Errorf("dpop: EC jwk is not a point on %s: %w", k.Crv(), err)
	}
	return nil
}

// curveFor maps each ECDSA algorithm to the curve it is defined on.
var curveFor = map[jwa.SignatureAlgorithm]jwa.EllipticCurveAlgorithm{
	jwa.ES256: jwa.P256,
	jwa.ES384: jwa.P384,
	jwa.ES512: jwa.P521,
}

// rsaBits returns the bit length of the big-endian modulus n.
func rsaBits(n []byte) int {
	for len(n) > 0 && n[0] == 0 {
		n = n[1:]
	}
	if len(n) == 0 {
		return 0
	}
	bits := 8 * len(n)
	for b := n[0]; b&0x80 == 0; b <<= 1 {
		bits--
	}
	return bits
}
