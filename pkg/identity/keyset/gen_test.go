package keyset

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

var update = flag.Bool("update", false, "regenerate testdata/ (new random keys)")

// TestGenerateTestdata writes the key-set fixtures when run with -update;
// otherwise it does nothing (the fixtures are committed).
func TestGenerateTestdata(t *testing.T) {
	if !*update {
		return
	}
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)

	pub := func(raw any, kv ...any) map[string]any { return jwkMap(t, raw, kv...) }
	rsaPub, ecPub, edPub := &rsa2048.PublicKey, &ec256.PublicKey, ed.Public()
	withOth := pub(rsaPub, "kid", "oth-only")
	withOth["oth"] = []any{map[string]any{"r": "AQAB", "d": "AQAB", "t": "AQAB"}}
	sets := map[string][]any{
		"good":          {pub(rsaPub, "kid", "rsa-1", "alg", "RS256", "use", "sig"), pub(ecPub, "kid", "ec-1"), pub(edPub, "kid", "ed-1", "key_ops", []string{"verify"})},
		"private-rsa":   {pub(ecPub, "kid", "ec-1"), pub(rsa2048, "kid", "rsa-leaked")},
		"private-ec":    {pub(ec256, "kid", "ec-leaked")},
		"private-oth":   {pub(ecPub, "kid", "ec-1"), withOth},
		"symmetric":     {pub(ecPub, "kid", "ec-1"), map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}},
		"unusable-mix":  {pub(ecPub, "kid", "good"), pub(&rsa1024.PublicKey, "kid", "weak"), pub(rsaPub, "kid", "enc", "use", "enc"), pub(rsaPub, "kid", "signonly", "key_ops", []string{"sign"}), map[string]any{"kty": "XYZ", "kid": "alien"}, pub(ecPub, "kid", "wrongalg", "alg", "ES384"), map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": b64url(x25519.PublicKey().Bytes())}, pub(rsaPub, "kid", "hs", "alg", "HS256"), map[string]any{"kty": "RSA", "kid": "broken", "n": 5}},
		"duplicate-kid": {pub(ecPub, "kid", "dup"), pub(rsaPub, "kid", "dup"), pub(edPub, "kid", "ok")},
		"all-unusable":  {pub(&rsa1024.PublicKey, "kid", "weak"), pub(rsaPub, "kid", "enc", "use", "enc")},
		"empty":         {},
	}
	for name, keys := range sets {
		writeJSON(t, name+".json", map[string]any{"keys": keys})
	}
	writeFile(t, "not-a-set.json", []byte(`{"keys":"S3CRET-not-a-list"}`))
	der, _ := x509.MarshalPKIXPublicKey(rsaPub)
	writeFile(t, "rsa-public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	derWeak, _ := x509.MarshalPKIXPublicKey(&rsa1024.PublicKey)
	writeFile(t, "rsa1024-public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: derWeak}))
	writeFile(t, "rsa-private.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa2048)}))
	writeFile(t, "hmac-secret.pem", []byte("a-shared-hmac-secret\n"))
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwkMap(t *testing.T, raw any, kv ...any) map[string]any {
	t.Helper()
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := k.Set(kv[i].(string), kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(k)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func writeJSON(t *testing.T, name string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, name, append(b, '\n'))
}

func writeFile(t *testing.T, name string, b []byte) {
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
