package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test constants: the issuer and hop of testdata/jwks.json.
const (
	issuerA   = "https://auth.example.test"
	issuerB   = "https://other-auth.example.test"
	resourceA = "https://mcp.example.test/mcp"
	resourceB = "https://mcp.example.test/billing"
	originA   = "https://mcp.example.test"
	kidA      = "bench-key-1"
	kidB      = "other-key-1"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testKey is a signing key with its kid and alg.
type testKey struct {
	kid, alg string
	priv     crypto.Signer
}

// rsaKeyA loads the test-only RSA key of testdata (kid bench-key-1).
func rsaKeyA(t testing.TB) testKey {
	t.Helper()
	buf, err := os.ReadFile(filepath.Join("testdata", "private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(buf)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kidA, alg: "RS256", priv: k.(*rsa.PrivateKey)}
}

// newECKey generates a P-256 key.
func newECKey(t testing.TB, kid string) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, alg: "ES256", priv: k}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	buf, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(buf)
}

// jwkOf is the public JWK (as a map) of k.
func jwkOf(t testing.TB, k testKey) map[string]any {
	t.Helper()
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		e := big64(pub.E)
		return map[string]any{"kty": "RSA", "kid": k.kid, "alg": k.alg, "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(e)}
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"kty": "EC", "kid": k.kid, "alg": k.alg, "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	}
	t.Fatalf("jwkOf(%T)", k.priv)
	return nil
}

// jktOf is the RFC 7638 thumbprint of an EC P-256 key.
func jktOf(t testing.TB, k testKey) string {
	t.Helper()
	j := jwkOf(t, k)
	canon := `{"crv":"P-256","kty":"EC","x":"` + j["x"].(string) + `","y":"` + j["y"].(string) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:])
}

func big64(e int) []byte {
	var out []byte
	for ; e > 0; e >>= 8 {
		out = append([]byte{byte(e)}, out...)
	}
	return out
}

// jwksJSON is a JWK Set of the public parts of keys.
func jwksJSON(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	set := map[string]any{"keys": []any{}}
	for _, k := range keys {
		set["keys"] = append(set["keys"].([]any), jwkOf(t, k))
	}
	buf, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// writeJWKS writes a JWK Set of keys to a temporary file.
func writeJWKS(t testing.TB, keys ...testKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(p, jwksJSON(t, keys...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signRaw signs input with k according to alg (test-only, stdlib crypto).
func signRaw(t testing.TB, alg string, key any, input []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(input)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg == "PS256" {
			sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, sum[:], nil)
			must(t, err)
			return sig
		}
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		must(t, err)
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		must(t, err)
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write(input)
		return m.Sum(nil)
	case nil:
		return nil
	}
	t.Fatalf("signRaw(%T)", key)
	return nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mint builds a compact JWS of claims with header, signed by key.
func mint(t testing.TB, header, claims map[string]any, key any) string {
	t.Helper()
	input := b64JSON(t, header) + "." + b64JSON(t, claims)
	return input + "." + b64(signRaw(t, header["alg"].(string), key, []byte(input)))
}

// sign is mint with the usual header of k.
func sign(t testing.TB, k testKey, claims map[string]any) string {
	t.Helper()
	return mint(t, map[string]any{"alg": k.alg, "kid": k.kid, "typ": "at+jwt"}, claims, k.priv)
}

// claimsFor is a valid claims set for issuer and resource at the fake
// clock's start; edit to make attacks.
func claimsFor(iss, aud string) map[string]any {
	return map[string]any{
		"iss": iss, "sub": "alice", "aud": aud,
		"exp": t0.Add(time.Hour).Unix(), "iat": t0.Add(-time.Minute).Unix(), "nbf": t0.Add(-time.Minute).Unix(),
		"jti": "jti-1", "roles": []string{"admin"}, "scope": "mcp:tools mcp:resources", "azp": "client-1",
	}
}

// with returns a copy of m with the given changes (a nil value deletes).
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// reasonOf is the denial reason and detail of err ("" for nil).
func reasonOf(err error) (denial.Reason, string) {
	if err == nil {
		return "", ""
	}
	var d *denial.Error
	if !errors.As(err, &d) {
		return "not-a-denial", err.Error()
	}
	return d.Reason, d.Detail
}
