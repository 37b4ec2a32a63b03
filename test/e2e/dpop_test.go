package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// dpopKey is a client's ES256 proof key.
type dpopKey struct {
	priv *ecdsa.PrivateKey
	jwk  map[string]string // public JWK members
	jkt  string            // RFC 7638 SHA-256 thumbprint
}

func newDPoPKey(t testing.TB) dpopKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := priv.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point := pub.Bytes() // 0x04 || X || Y
	enc := base64.RawURLEncoding
	x, y := enc.EncodeToString(point[1:33]), enc.EncodeToString(point[33:])
	// RFC 7638: the required members in lexicographic order, no whitespace.
	canon := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	sum := sha256.Sum256([]byte(canon))
	return dpopKey{
		priv: priv,
		jwk:  map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y},
		jkt:  enc.EncodeToString(sum[:]),
	}
}

// proof signs a DPoP proof (RFC 9449 §4.2) for a POST to htu carrying token.
func (k dpopKey) proof(t testing.TB, htu, token string) string {
	t.Helper()
	return k.proofWith(t, htu, token, nil)
}

// proofWith is proof with extra claims (e.g. the server's nonce).
func (k dpopKey) proofWith(t testing.TB, htu, token string, extra map[string]any) string {
	t.Helper()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	ath := sha256.Sum256([]byte(token))
	hdr, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk})
	claims := map[string]any{
		"jti": enc.EncodeToString(jti), "htm": "POST", "htu": htu,
		"iat": time.Now().Unix(), "ath": enc.EncodeToString(ath[:]),
	}
	for k, v := range extra {
		claims[k] = v
	}
	cl, _ := json.Marshal(claims)
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(cl)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64) // JWS ES256: R || S, 32 bytes each
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig)
}

// TestDPoPBoundTokenOverGRPC sends a DPoP-bound token through the real app:
// a fresh proof is allowed, its replay, the token as Bearer and a proof for
// another URL are 401s.
func TestDPoPBoundTokenOverGRPC(t *testing.T) {
	_, client := startAppYAML(t, e2eConfig)
	key := newDPoPKey(t)
	token := mintAccess(t, map[string]any{"cnf": map[string]any{"jkt": key.jkt}})
	call := func(auth, proof string) mcpPost {
		p := mcpPost{authorization: auth, body: searchCallBody}
		if proof != "" {
			p.headers = map[string]string{"dpop": proof}
		}
		return p
	}

	proof := key.proof(t, e2eResource, token)
	wantAllow(t, "DPoP token with a fresh proof", mustCheck(t, client, call("DPoP "+token, proof).request()))

	d := wantDeny(t, "replayed proof", mustCheck(t, client, call("DPoP "+token, proof).request()), 401, "invalid_dpop_proof")
	if c := d.headers["www-authenticate"]; !strings.HasPrefix(c, `DPoP error="invalid_dpop_proof"`) || !strings.Contains(c, "already been used") || !strings.Contains(c, "ES256") {
		t.Errorf("replayed proof: WWW-Authenticate %q; want a DPoP invalid_dpop_proof challenge naming the reuse and advertising ES256", c)
	}

	d = wantDeny(t, "bound token as Bearer", mustCheck(t, client, call("Bearer "+token, "").request()), 401, "token_invalid")
	if c := d.headers["www-authenticate"]; !strings.HasPrefix(c, `Bearer error="invalid_token"`) || !strings.Contains(c, "presented as Bearer") {
		t.Errorf("bound token as Bearer: WWW-Authenticate %q; want a Bearer invalid_token challenge naming the binding", c)
	}
	// A Bearer presentation with a valid proof beside it is still refused.
	wantDeny(t, "bound token as Bearer with a proof", mustCheck(t, client,
		call("Bearer "+token, key.proof(t, e2eResource, token)).request()), 401, "token_invalid")

	wrongHTU := key.proof(t, "https://mcp.example.test/other", token)
	d = wantDeny(t, "proof for another htu", mustCheck(t, client, call("DPoP "+token, wrongHTU).request()), 401, "invalid_dpop_proof")
	if c := d.headers["www-authenticate"]; !strings.HasPrefix(c, `DPoP error="invalid_dpop_proof"`) || !strings.Contains(c, "htu") {
		t.Errorf("proof for another htu: WWW-Authenticate %q; want a DPoP challenge naming htu", c)
	}

	other := newDPoPKey(t)
	wantDeny(t, "proof by a key the token is not bound to", mustCheck(t, client,
		call("DPoP "+token, other.proof(t, e2eResource, token)).request()), 401, "invalid_dpop_proof")
	wantDeny(t, "DPoP scheme without a proof", mustCheck(t, client, call("DPoP "+token, "").request()), 401, "invalid_dpop_proof")

	// Behind a sidecar :scheme is http and :authority the in-cluster name;
	// htu is still checked against the configured public origin.
	sidecar := call("DPoP "+token, key.proof(t, e2eResource, token))
	sidecar.scheme, sidecar.host = "http", "mcp.mcp.svc.cluster.local:8080"
	wantAllow(t, "fresh proof behind a sidecar", mustCheck(t, client, sidecar.request()))
}
