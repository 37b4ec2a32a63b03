package upstream

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestLoadKeySet(t *testing.T) {
	dir := t.TempDir()
	p256a, p256b := writeKey(t, dir, "a.pem", "p256"), writeKey(t, dir, "b.pem", "p256")
	p384, ed := writeKey(t, dir, "c.pem", "p384"), writeKey(t, dir, "d.pem", "ed25519")
	jwkPriv, jwkPub := writeJWK(t, dir, "e.jwk", true), writeJWK(t, dir, "f.jwk", false)
	garbage := dir + "/garbage.pem"
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   []string
		alg     string
		wantErr string
	}{
		{"two P-256 keys", []string{p256a, p256b}, "ES256", ""},
		{"Ed25519", []string{ed}, "EdDSA", ""},
		{"private JWK beside PEM", []string{jwkPriv, p256a}, "ES256", ""},
		{"public JWK", []string{jwkPub}, "ES256", "cannot sign"},
		{"P-384 for ES256", []string{p384}, "ES256", "cannot sign"},
		{"Ed25519 for ES256", []string{ed}, "ES256", "cannot sign"},
		{"P-256 for EdDSA", []string{p256a}, "EdDSA", "cannot sign"},
		{"duplicate", []string{p256a, p256a}, "ES256", "listed twice"},
		{"no files", nil, "ES256", "no signing key files"},
		{"missing file", []string{dir + "/nope.pem"}, "ES256", "no such file"},
		{"not PEM", []string{garbage}, "ES256", "no PEM block"},
		{"SEC 1 PEM", []string{writeSEC1(t, dir)}, "ES256", ""},
		{"RS256", []string{p256a}, "RS256", "want ES256 or EdDSA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadKeySet(tc.files, tc.alg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadKeySet(%s) error = %v; want %q", tc.name, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKeySet(%s) error = %v", tc.name, err)
			}
			checkPublished(t, s, len(tc.files))
		})
	}
}

// checkPublished checks the JWKS holds n public keys, each with kid = its
// RFC 7638 SHA-256 thumbprint, alg and use=sig, and the signer first.
func checkPublished(t *testing.T, s *KeySet, n int) {
	t.Helper()
	set, err := jwk.Parse(s.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != n {
		t.Fatalf("JWKS has %d keys; want %d", set.Len(), n)
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(tp); k.KeyID() != want {
			t.Errorf("key %d kid %q; want thumbprint %q", i, k.KeyID(), want)
		}
		if k.KeyUsage() != "sig" || k.Algorithm().String() == "" {
			t.Errorf("key %d use %q alg %q; want sig and an alg", i, k.KeyUsage(), k.Algorithm())
		}
		var raw map[string]any
		b, _ := json.Marshal(k)
		_ = json.Unmarshal(b, &raw)
		for _, private := range []string{"d", "p", "q"} {
			if _, ok := raw[private]; ok {
				t.Errorf("published key %d has private member %q", i, private)
			}
		}
	}
	first, _ := set.Key(0)
	if first.KeyID() != s.Kid() {
		t.Errorf("first published kid %q; want the signer %q", first.KeyID(), s.Kid())
	}
}

func TestKeysReload(t *testing.T) {
	dir := t.TempDir()
	cur, next := writeKey(t, dir, "current.pem", "p256"), writeKey(t, dir, "next.pem", "p256")
	k, err := NewKeys([]string{cur, next}, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	before := k.Current().Kids()
	if changed, err := k.Reload(); changed || err != nil {
		t.Fatalf("Reload() of unchanged files = %v, %v; want false, nil", changed, err)
	}
	// Swapping the files' contents makes the published next key the signer.
	a, _ := os.ReadFile(cur)
	b, _ := os.ReadFile(next)
	_ = os.WriteFile(cur, b, 0o600)
	_ = os.WriteFile(next, a, 0o600)
	if changed, err := k.Reload(); !changed || err != nil {
		t.Fatalf("Reload() after a swap = %v, %v; want true, nil", changed, err)
	}
	if got := k.Current().Kid(); got != before[1] {
		t.Errorf("signing kid after swap %q; want the former second key %q", got, before[1])
	}
	// A broken file keeps the current set.
	_ = os.WriteFile(next, []byte("broken"), 0o600)
	if changed, err := k.Reload(); changed || err == nil {
		t.Fatalf("Reload() with a broken file = %v, %v; want false and an error", changed, err)
	}
	if got := k.Current().Kid(); got != before[1] {
		t.Errorf("signing kid after a failed reload %q; want %q kept", got, before[1])
	}
}

func TestPublisher(t *testing.T) {
	k, err := NewKeys([]string{writeKey(t, t.TempDir(), "a.pem", "p256")}, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPublisher(k, "https://authz.example.test/tenant-a", "https://authz.example.test/.well-known/jwks.json", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         int
		contains     string
	}{
		{"GET", "/.well-known/jwks.json", 200, `"kid":"` + k.Current().Kid() + `"`},
		{"HEAD", "/.well-known/jwks.json", 200, ""},
		{"GET", "/.well-known/oauth-authorization-server/tenant-a", 200, `"jwks_uri":"https://authz.example.test/.well-known/jwks.json"`},
		{"GET", "/.well-known/oauth-authorization-server", 404, ""},
		{"POST", "/.well-known/jwks.json", 405, ""},
		{"GET", "/other", 404, ""},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s = %d %.200q; want %d containing %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.want, tc.contains)
		}
		if rec.Code == http.StatusOK && rec.Header().Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("%s %s Cache-Control = %q; want public, max-age=60", tc.method, tc.path, rec.Header().Get("Cache-Control"))
		}
	}
}
