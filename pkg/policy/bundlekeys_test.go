package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
)

// testKeys are fresh key pairs (PEM files) for the signing tests.
type testKeys struct{ rsaPriv, rsaPub, ecPriv, ecPub, ec384Priv, ec384Pub, otherECPub, edPriv, edPub string }

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	gen := func(f func() (crypto.Signer, error)) (string, string) {
		k, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return writeKeys(t, k)
	}
	var k testKeys
	k.rsaPriv, k.rsaPub = gen(func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) })
	k.ecPriv, k.ecPub = gen(func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	k.ec384Priv, k.ec384Pub = gen(func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) })
	_, k.otherECPub = gen(func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })
	k.edPriv, k.edPub = gen(func() (crypto.Signer, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	})
	return k
}

// signedWith builds the test policies signed with priv (algorithm
// inferred from the key) under kid, with scope when set.
func signedWith(t *testing.T, priv, kid, scope string) []byte {
	t.Helper()
	tgz, err := BuildBundle(testdataPolicies, "rev-"+kid+"-"+scope, &SigningConfig{KeyFile: priv, KeyID: kid, Scope: scope})
	if err != nil {
		t.Fatalf("BuildBundle(kid %s, scope %q) = %v", kid, scope, err)
	}
	return tgz
}

// TestSignedBundleKeysAndScope: OPA's keys map, key choice by kid or by
// key_id, algorithms inferred from the keys, and the signature's scope.
func TestSignedBundleKeysAndScope(t *testing.T) {
	k := newTestKeys(t)
	rsaB := signedWith(t, k.rsaPriv, "rsa-1", "")
	ecB := signedWith(t, k.ecPriv, "ec-1", "")
	ecProd := signedWith(t, k.ecPriv, "ec-1", "prod")
	ec384 := signedWith(t, k.ec384Priv, "ec-2", "")
	ghost := signedWith(t, k.ecPriv, "ghost", "")
	both := map[string]VerificationKey{"rsa-1": {KeyFile: k.rsaPub}, "ec-1": {KeyFile: k.ecPub}, "ec-2": {KeyFile: k.ec384Pub}}
	tests := []struct {
		name    string
		tgz     []byte
		verify  VerificationConfig
		wantErr string // "" when the bundle must verify
	}{
		{"RSA key file, RS256 inferred", rsaB, VerificationConfig{PublicKeyFile: k.rsaPub, KeyID: "rsa-1"}, ""},
		{"EC key file, ES256 inferred", ecB, VerificationConfig{PublicKeyFile: k.ecPub, KeyID: "ec-1"}, ""},
		{"EC P-384 key file, ES384 inferred", ec384, VerificationConfig{PublicKeyFile: k.ec384Pub, KeyID: "ec-2"}, ""},
		{"key map picks RSA by kid", rsaB, VerificationConfig{Keys: both}, ""},
		{"key map picks EC by kid", ecB, VerificationConfig{Keys: both}, ""},
		{"key map picks ES384 by kid", ec384, VerificationConfig{Keys: both}, ""},
		{"key map with explicit algorithm", ecB, VerificationConfig{Keys: map[string]VerificationKey{"ec-1": {KeyFile: k.ecPub, Algorithm: "ES256"}}}, ""},
		{"key_id selects the signer", ecB, VerificationConfig{Keys: both, KeyID: "ec-1"}, ""},
		{"key_id refuses another key of the map", rsaB, VerificationConfig{Keys: both, KeyID: "ec-1"}, `ID rsa-1 not found`},
		{"scope matches", ecProd, VerificationConfig{Keys: both, Scope: "prod"}, ""},
		{"wrong scope", ecProd, VerificationConfig{Keys: both, Scope: "staging"}, "scope mismatch"},
		{"missing scope", ecB, VerificationConfig{Keys: both, Scope: "prod"}, "scope mismatch"},
		{"scoped bundle, no scope configured", ecProd, VerificationConfig{Keys: both}, "scope mismatch"},
		{"unknown kid", ghost, VerificationConfig{Keys: both}, `ID ghost not found`},
		{"wrong key under the kid", ecB, VerificationConfig{Keys: map[string]VerificationKey{"ec-1": {KeyFile: k.otherECPub}}}, "failed to verify"},
		{"RSA key given an EC bundle's kid", ecB, VerificationConfig{Keys: map[string]VerificationKey{"ec-1": {KeyFile: k.rsaPub}}}, "failed to verify"},
		{"algorithm does not fit the key", ecB, VerificationConfig{PublicKeyFile: k.ecPub, Algorithm: "ES384", KeyID: "ec-1"}, `verification key "ec-1"`},
		{"HMAC algorithm refused", ecB, VerificationConfig{PublicKeyFile: k.ecPub, Algorithm: "HS256", KeyID: "ec-1"}, `alg "HS256" does not fit the key`},
		{"Ed25519 key refused", ecB, VerificationConfig{Keys: map[string]VerificationKey{"ed": {KeyFile: k.edPub}}}, `verification key "ed"`},
		{"EdDSA is no bundle algorithm", ecB, VerificationConfig{Keys: map[string]VerificationKey{"ed": {KeyFile: k.edPub}}}, "not a bundle signature algorithm"},
		{"private key in the map", ecB, VerificationConfig{Keys: map[string]VerificationKey{"ec-1": {KeyFile: k.ecPriv}}}, `verification key "ec-1"`},
		{"key_id not in the map", ecB, VerificationConfig{Keys: both, KeyID: "nope"}, `key id "nope" is not in the key map`},
		{"file and map together", ecB, VerificationConfig{PublicKeyFile: k.ecPub, Keys: both}, "not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle.tar.gz")
			if err := os.WriteFile(path, tc.tgz, 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := LoadBundleFile(path, WithVerification(tc.verify))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadBundleFile = %v; want verified", err)
				}
				newEngine(t, Options{}, b)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadBundleFile = %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestSignRefusesEdDSA: OPA's bundle keys have no EdDSA, so a bundle
// signed with an Ed25519 key could never verify: refused when building.
func TestSignRefusesEdDSA(t *testing.T) {
	k := newTestKeys(t)
	_, err := BuildBundle(testdataPolicies, "ed", &SigningConfig{KeyFile: k.edPriv})
	if !errors.Is(err, errBundleAlg) {
		t.Fatalf("BuildBundle(Ed25519) = %v; want %v", err, errBundleAlg)
	}
}

// TestVerificationKeyErrorsWrap: a refused key keeps keyset's error.
func TestVerificationKeyErrorsWrap(t *testing.T) {
	k := newTestKeys(t)
	_, err := VerificationConfig{Keys: map[string]VerificationKey{"ci": {KeyFile: k.rsaPriv}}}.OPAConfig()
	if !errors.Is(err, keyset.ErrPrivateMaterial) || !strings.Contains(err.Error(), `"ci"`) {
		t.Fatalf("OPAConfig(private key) = %v; want %v naming the key", err, keyset.ErrPrivateMaterial)
	}
}
