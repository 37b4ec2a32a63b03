package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/keys"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
)

// errBundleAlg refuses an algorithm OPA's bundle signatures cannot carry
// (OPA's keys accept RS*, PS*, ES* and HS*: no EdDSA) or a shared secret.
var errBundleAlg = errors.New("not a bundle signature algorithm: want RS256/384/512, PS256/384/512 or ES256/384/512")

// checkBundleAlg accepts the asymmetric algorithms of OPA's bundle keys.
func checkBundleAlg(alg string) error {
	if !keys.IsSupportedAlgorithm(alg) || strings.HasPrefix(alg, "HS") {
		return fmt.Errorf("%w, got %.16q", errBundleAlg, alg)
	}
	return nil
}

// inferPublicAlg is the algorithm of the first PUBLIC KEY block of doc:
// RS256 for RSA, ES256/384/512 by curve, EdDSA for Ed25519 (refused by
// checkBundleAlg); RS256 when there is none, so keyset.PublicPEM then
// names what is wrong (a private key, a secret).
func inferPublicAlg(doc []byte) string {
	for rest := doc; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return defaultSigningAlgorithm
		}
		if b.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return defaultSigningAlgorithm
		}
		return algOf(k)
	}
}

// inferPrivateAlg is the algorithm of a PEM private key file (PKCS #1,
// SEC 1 or PKCS #8); RS256 when it is none (OPA then refuses the key).
func inferPrivateAlg(doc []byte) string {
	b, _ := pem.Decode(doc)
	if b == nil {
		return defaultSigningAlgorithm
	}
	var k any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return defaultSigningAlgorithm
	}
	if s, ok := k.(crypto.Signer); ok {
		return algOf(s.Public())
	}
	return defaultSigningAlgorithm
}

// algOf is the default JWS algorithm of a public key (RS256 for RSA).
func algOf(k any) string {
	switch pk := k.(type) {
	case *ecdsa.PublicKey:
		if alg := keyset.CurveAlg(pk.Curve); alg != "" {
			return alg
		}
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return defaultSigningAlgorithm
}

// sign adds a signature made with s to b: the algorithm inferred from the
// key unless s names one, the scope (if any) as a claim.
func sign(b *bundle.Bundle, s *SigningConfig) error {
	key, err := os.ReadFile(s.KeyFile)
	if err != nil {
		return fmt.Errorf("policy: signing key: %w", err)
	}
	alg := s.Algorithm
	if alg == "" {
		alg = inferPrivateAlg(key)
	}
	if !keys.IsSupportedAlgorithm(alg) {
		return fmt.Errorf("policy: sign bundle: %w, got %.16q", errBundleAlg, alg)
	}
	claims, cleanup, err := claimsFile(s.Scope)
	if err != nil {
		return err
	}
	defer cleanup()
	sc := bundle.NewSigningConfig(string(key), alg, claims)
	if err := b.GenerateSignature(sc, cmpOr(s.KeyID, defaultKeyID), true); err != nil {
		return fmt.Errorf("policy: sign bundle (%s): %w", alg, err)
	}
	return nil
}

// claimsFile writes the extra claims of a scoped signature to a temporary
// file, the only way OPA's signer takes claims; "" without a scope.
func claimsFile(scope string) (path string, cleanup func(), err error) {
	if scope == "" {
		return "", func() {}, nil
	}
	f, err := os.CreateTemp("", "mcp-authz-claims-*.json")
	if err != nil {
		return "", nil, fmt.Errorf("policy: signing claims: %w", err)
	}
	cleanup = func() { _ = os.Remove(f.Name()) }
	err = json.NewEncoder(f).Encode(map[string]string{"scope": scope})
	if err = errors.Join(err, f.Close()); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("policy: signing claims: %w", err)
	}
	return f.Name(), cleanup, nil
}
