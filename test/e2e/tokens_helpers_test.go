package e2e

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// mintIssuer is the iss of the tokens mcp-authz mints in these tests.
const mintIssuer = "https://authz.example.test"

// writeSigningKey writes a fresh test-only private key for alg (ES256:
// P-256, EdDSA: Ed25519) as PKCS #8 PEM and returns its path.
func writeSigningKey(t testing.TB, dir, name, alg string) string {
	t.Helper()
	var key any
	var err error
	switch alg {
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("writeSigningKey: alg %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envoyApply applies an OkHttpResponse to request headers the way Envoy
// does: first every ok_response.headers entry by its append_action, then
// headers_to_remove. It returns the headers the upstream receives.
func envoyApply(t testing.TB, in map[string]string, ok *authv3.OkHttpResponse) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for k, v := range in {
		out[strings.ToLower(k)] = []string{v}
	}
	for _, h := range ok.GetHeaders() {
		k, v := strings.ToLower(h.GetHeader().GetKey()), h.GetHeader().GetValue()
		switch h.GetAppendAction() {
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			out[k] = []string{v}
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			if h.GetAppend() != nil && !h.GetAppend().GetValue() { //nolint:staticcheck // SA1019: Envoy still honours the deprecated append
				out[k] = []string{v} // the deprecated append: false overwrites
				continue
			}
			out[k] = append(out[k], v)
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if len(out[k]) == 0 {
				out[k] = []string{v}
			}
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			if len(out[k]) > 0 {
				out[k] = []string{v}
			}
		}
	}
	for _, k := range ok.GetHeadersToRemove() {
		delete(out, strings.ToLower(k))
	}
	return out
}

// fetchJWKS gets the JWKS from the public listener over HTTP, as an
// upstream (or Istio's RequestAuthentication jwksUri) does.
func fetchJWKS(t testing.TB, publicAddr string) jwk.Set {
	t.Helper()
	resp, err := http.Get("http://" + publicAddr + "/.well-known/jwks.json")
	if err != nil {
		t.Fatalf("GET jwks: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET jwks = %d %s", resp.StatusCode, b)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("JWKS Cache-Control = %q; want a max-age", cc)
	}
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatalf("parse jwks: %v", err)
	}
	return set
}

// mintedView is a verified minted token: its header and claims.
type mintedView struct {
	typ, kid string
	claims   map[string]any
	iat, exp time.Time
}

// verifyMinted verifies tok against set as an upstream would (signature by
// a published key, typ at+jwt, iss, aud, lifetime at now) and returns it.
func verifyMinted(t testing.TB, set jwk.Set, tok, aud string, now time.Time) (mintedView, error) {
	t.Helper()
	parsed, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer(mintIssuer),
		jwt.WithAudience(aud), jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })))
	if err != nil {
		return mintedView{}, err
	}
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		return mintedView{}, err
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	claims, err := parsed.AsMap(t.Context())
	if err != nil {
		return mintedView{}, err
	}
	return mintedView{typ: h.Type(), kid: h.KeyID(), claims: claims, iat: parsed.IssuedAt(), exp: parsed.Expiration()}, nil
}

// upstreamBearer returns the token in the upstream's Authorization header.
func upstreamBearer(t testing.TB, hdrs map[string][]string) string {
	t.Helper()
	a := hdrs["authorization"]
	if len(a) != 1 || !strings.HasPrefix(a[0], "Bearer ") {
		t.Fatalf("upstream authorization = %q; want one Bearer token", a)
	}
	return strings.TrimPrefix(a[0], "Bearer ")
}

// jsonOf re-encodes v for comparisons of nested claims.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
