package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// ecSigningKeys writes a fresh P-256 key pair: a SEC 1 private key
// (signing) and a PKIX public key (verification).
func ecSigningKeys(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub.pem")
	writePEM(t, priv, "EC PRIVATE KEY", der)
	writePEM(t, pub, "PUBLIC KEY", pubDER)
	return priv, pub
}

// buildScoped builds dir as revision rev signed with key under kid and
// scope (the algorithm inferred from the key, as `bundle build` does).
func buildScoped(t *testing.T, dir, rev, key, kid, scope string) []byte {
	t.Helper()
	b, err := policy.BuildBundle(dir, rev, &policy.SigningConfig{KeyFile: key, KeyID: kid, Scope: scope})
	if err != nil {
		t.Fatalf("BuildBundle %s: %v", rev, err)
	}
	return b
}

// TestBundleServerSignedKeysMapAndScope: a service configured with OPA's
// keys map (an EC and an RSA key) and a scope accepts an ES256 bundle of
// that scope from a bundle server, refuses a revision signed for another
// scope (the last good keeps deciding), and accepts the RSA key's bundle
// when the signature's kid names it.
func TestBundleServerSignedKeysMapAndScope(t *testing.T) {
	dir := t.TempDir()
	ecKey, ecPub := ecSigningKeys(t, dir, "ci-ec")
	rsaKey, rsaPub := signingKeys(t, dir, "ci-rsa")
	v := policyVariants(t)
	srv := newBundleServer(t)
	srv.publish(buildScoped(t, v["allow"], "rev-1", ecKey, "ci-ec", "prod"))
	cfg := `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
policy:
  deadline: 5s
bundle:
  url: ` + srv.url() + `
  keys:
    ci-ec: {key_file: ` + ecPub + `}
    ci-rsa: {algorithm: RS256, key_file: ` + rsaPub + `}
  scope: prod
  poll: {min_delay: 1s, max_delay: 2s, long_polling_timeout: 2s}
`
	a, client := startAppYAML(t, cfg)
	tok := mintAccess(t, nil)
	waitFor(t, "rev-1 (ES256, scope prod) active", func() bool { return a.Engine().Revision() == "rev-1" })
	wantAllow(t, "rev-1", searchAs(t, client, tok))

	before := bundleField(t, a, "refusals").(float64)
	srv.publish(buildScoped(t, v["deny"], "rev-staging", ecKey, "ci-ec", "staging"))
	waitFor(t, "the wrong-scope revision refused", func() bool { return bundleField(t, a, "refusals").(float64) > before })
	if rev := a.Engine().Revision(); rev != "rev-1" {
		t.Fatalf("active revision %q after a wrong-scope bundle; want rev-1 kept", rev)
	}
	if msg, _ := bundleField(t, a, "last_error").(string); !strings.Contains(msg, "scope mismatch") {
		t.Errorf("/readyz bundle.last_error %q; want it to name the scope mismatch", msg)
	}
	wantAllow(t, "last good keeps deciding", searchAs(t, client, tok))

	srv.publish(buildScoped(t, v["deny"], "rev-2", rsaKey, "ci-rsa", "prod"))
	waitFor(t, "rev-2 (RS256 by kid) active", func() bool { return a.Engine().Revision() == "rev-2" })
	wantDeny(t, "rev-2", searchAs(t, client, tok), 200, "tool_not_allowed")
}
