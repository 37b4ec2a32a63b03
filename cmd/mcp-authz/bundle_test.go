package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// TestBundleBuildScope: `bundle build -scope` with an EC key (ES256
// inferred) writes a bundle that verifies for that scope only.
func TestBundleBuildScope(t *testing.T) {
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	priv, pub, out := filepath.Join(dir, "ci.pem"), filepath.Join(dir, "ci.pub.pem"), filepath.Join(dir, "b.tar.gz")
	for path, b := range map[string]*pem.Block{priv: {Type: "EC PRIVATE KEY", Bytes: der}, pub: {Type: "PUBLIC KEY", Bytes: pubDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "bundle", "build", "-dir", "../../policies", "-out", out, "-signing-key", priv, "-signing-kid", "ci", "--scope", "prod")
	keys := map[string]policy.VerificationKey{"ci": {KeyFile: pub}}
	if _, err := policy.LoadBundleFile(out, policy.WithVerification(policy.VerificationConfig{Keys: keys, Scope: "prod"})); err != nil {
		t.Fatalf("verify scope prod = %v; want verified", err)
	}
	_, err = policy.LoadBundleFile(out, policy.WithVerification(policy.VerificationConfig{Keys: keys, Scope: "staging"}))
	if err == nil || !strings.Contains(err.Error(), "scope mismatch") {
		t.Fatalf("verify scope staging = %v; want a scope mismatch", err)
	}
	if code, _, errOut := runCmd(t, "bundle", "build", "-dir", "../../policies", "-out", out, "-scope", "prod"); code != 2 || !strings.Contains(errOut, "-scope needs -signing-key") {
		t.Fatalf("bundle build -scope without a key = exit %d, %q; want 2 naming -signing-key", code, errOut)
	}
}
