package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// Shared test values.
const (
	testOrigin = "https://mcp.example.test"
	testURL    = "https://mcp.example.test/mcp"
	testToken  = "access-token-for-tests"
)

// t0 is the time of the test clock and the iat of generated proofs.
var t0 = time.Unix(1_750_000_000, 0)

// testClock is an injected clock tests can move.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{now: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// signer signs proofs with one private key and puts its public JWK in the
// header.
type signer struct {
	alg  jwa.SignatureAlgorithm
	priv any
	pub  map[string]any // public JWK members
	full map[string]any // private JWK members (for the private-key case)
	jkt  string
}

// newSigner wraps a private key for alg.
func newSigner(alg jwa.SignatureAlgorithm, priv crypto.Signer) (signer, error) {
	pubKey, err := jwk.FromRaw(priv.Public())
	if err != nil {
		return signer{}, err
	}
	privKey, err := jwk.FromRaw(priv)
	if err != nil {
		return signer{}, err
	}
	tp, err := pubKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return signer{}, err
	}
	pub, err := jwkMembers(pubKey)
	if err != nil {
		return signer{}, err
	}
	full, err := jwkMembers(privKey)
	if err != nil {
		return signer{}, err
	}
	return signer{alg: alg, priv: priv, pub: pub, full: full, jkt: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// jwkMembers returns the JSON members of k.
func jwkMembers(k jwk.Key) (map[string]any, error) {
	buf, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(buf, &m)
}

// testKeys are generated once per test binary (RSA generation is slow).
type testKeys struct {
	es256, es256b, es384, es512, rs256, ps256, rsa1024, eddsa signer
}

var keysOnce = sync.OnceValues(func() (testKeys, error) {
	p256, err1 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256b, err2 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, err3 := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, err4 := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	r2048, err5 := rsa.GenerateKey(rand.Reader, 2048)
	r1024, err6 := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, err7 := ed25519.GenerateKey(rand.Reader)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7); err != nil {
		return testKeys{}, err
	}
	var k testKeys
	var errs [8]error
	k.es256, errs[0] = newSigner(jwa.ES256, p256)
	k.es256b, errs[1] = newSigner(jwa.ES256, p256b)
	k.es384, errs[2] = newSigner(jwa.ES384, p384)
	k.es512, errs[3] = newSigner(jwa.ES512, p521)
	k.rs256, errs[4] = newSigner(jwa.RS256, r2048)
	k.ps256, errs[5] = newSigner(jwa.PS256, r2048)
	k.rsa1024, errs[6] = newSigner(jwa.RS256, r1024)
	k.eddsa, errs[7] = newSigner(jwa.EdDSA, ed)
	return k, errors.Join(errs[:]...)
})

// keys returns the shared test keys.
func keys(tb testing.TB) testKeys {
	tb.Helper()
	k, err := keysOnce()
	if err != nil {
		tb.Fatalf("generate test keys: %v", err)
	}
	return k
}

// baseHeader is the protected header of a good proof by s.
func (s signer) baseHeader() map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": s.alg.String(), "jwk": s.pub}
}

// baseClaims are the claims of a good proof for testURL, POST, testToken.
func baseClaims(jti string) map[string]any {
	return map[string]any{"jti": jti, "htm": "POST", "htu": testURL, "iat": t0.Unix(), "ath": ath(testToken)}
}

// sign returns the compact JWS of header and payload signed by s with alg.
func (s signer) sign(tb testing.TB, alg jwa.SignatureAlgorithm, header map[string]any, payload []byte) string {
	tb.Helper()
	hdr, err := json.Marshal(header)
	if err != nil {
		tb.Fatalf("json.Marshal(header) = %v", err)
	}
	input := b64(hdr) + "." + b64(payload)
	sg, err := jws.NewSigner(alg)
	if err != nil {
		tb.Fatalf("jws.NewSigner(%s) = %v", alg, err)
	}
	sig, err := sg.Sign([]byte(input), s.priv)
	if err != nil {
		tb.Fatalf("Sign(%s) = %v", alg, err)
	}
	return input + "." + b64(sig)
}

// proof returns a good proof by s with jti, after applying edits to copies
// of the base header and claims (a nil value deletes a member).
func (s signer) proof(tb testing.TB, jti string, hdrEdit, claimEdit map[string]any) string {
	tb.Helper()
	hdr, cl := s.baseHeader(), baseClaims(jti)
	apply(hdr, hdrEdit)
	apply(cl, claimEdit)
	payload, err := json.Marshal(cl)
	if err != nil {
		tb.Fatalf("json.Marshal(claims) = %v", err)
	}
	return s.sign(tb, s.alg, hdr, payload)
}

// apply sets every member of edit in m, deleting those whose value is nil.
func apply(m, edit map[string]any) {
	for k, v := range edit {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
}

// with returns a copy of m with edit applied.
func with(m, edit map[string]any) map[string]any {
	out := maps.Clone(m)
	apply(out, edit)
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// params returns the Params of a request that proofs by s are made for.
func (s signer) params(proof string) Params {
	return Params{Proof: proof, Method: "POST", URL: testURL, AccessToken: testToken, JKT: s.jkt}
}

// newTestChecker returns a Checker on clock (t0 when nil), closed at the end
// of the test.
func newTestChecker(tb testing.TB, o Options, clock *testClock) *Checker {
	tb.Helper()
	if clock == nil {
		clock = newTestClock(t0)
	}
	o.Clock = clock.Now
	c, err := New(o)
	if err != nil {
		tb.Fatalf("New(%+v) = %v", o, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// wantDenial fails unless err is nil when reason is "", or a *denial.Error
// with reason and detail.
func wantDenial(tb testing.TB, what string, err error, reason denial.Reason, detail string) {
	tb.Helper()
	if reason == "" {
		if err != nil {
			tb.Errorf("%s = %v; want nil", what, err)
		}
		return
	}
	var d *denial.Error
	if !errors.As(err, &d) || d.Reason != reason || d.Detail != detail {
		tb.Errorf("%s = %v (%T, detail %q); want %s with detail %q", what, err, err, detailOf(err), reason, detail)
	}
}

// detailOf returns the Detail of a *denial.Error, or "".
func detailOf(err error) string {
	var d *denial.Error
	if errors.As(err, &d) {
		return d.Detail
	}
	return ""
}
