package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// nonceKeyFile writes a random shared nonce key and returns its path.
func nonceKeyFile(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "nonce.key")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// nonceConfig turns DPoP server nonces on with keyFile.
func nonceConfig(keyFile string) string {
	return e2eConfig + "dpop:\n  nonce:\n    enabled: true\n    key_file: " + keyFile + "\n    lifetime: 2m\n"
}

// dpopCall is a DPoP tools/call of search_issues with a proof by key
// carrying nonce ("" for none).
func dpopCall(t *testing.T, key dpopKey, token, nonce string) *authv3.CheckRequest {
	t.Helper()
	extra := map[string]any{}
	if nonce != "" {
		extra["nonce"] = nonce
	}
	return mcpPost{authorization: "DPoP " + token, body: searchCallBody,
		headers: map[string]string{"dpop": key.proofWith(t, e2eResource, token, extra)}}.request()
}

// allowNonce returns the DPoP-Nonce an allowed response adds.
func allowNonce(resp *authv3.CheckResponse) string {
	for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
		if strings.EqualFold(h.GetHeader().GetKey(), "dpop-nonce") {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

// TestDPoPNonceRoundTrip: a proof without a nonce gets 401 use_dpop_nonce
// and a fresh DPoP-Nonce; with it the call is allowed and the answer
// carries a fresh nonce; a second proof with the same nonce and a new jti
// is allowed too; a forged nonce is refused; Bearer calls are untouched.
func TestDPoPNonceRoundTrip(t *testing.T) {
	_, client := startAppYAML(t, nonceConfig(nonceKeyFile(t)))
	key := newDPoPKey(t)
	token := mintAccess(t, map[string]any{"cnf": map[string]any{"jkt": key.jkt}})

	d := wantDeny(t, "DPoP proof without a nonce", mustCheck(t, client, dpopCall(t, key, token, "")), 401, "use_dpop_nonce")
	if c := d.headers["www-authenticate"]; !strings.HasPrefix(c, `DPoP error="use_dpop_nonce"`) || !strings.Contains(c, "resource_metadata=") {
		t.Errorf("WWW-Authenticate = %q; want DPoP error=\"use_dpop_nonce\" with resource_metadata", c)
	}
	nonce := d.headers["dpop-nonce"]
	if nonce == "" {
		t.Fatalf("use_dpop_nonce deny carries no DPoP-Nonce: %v", d.headers)
	}

	resp := mustCheck(t, client, dpopCall(t, key, token, nonce))
	wantAllow(t, "DPoP proof with the server's nonce", resp)
	next := allowNonce(resp)
	if next == "" || next == nonce {
		t.Errorf("allowed response DPoP-Nonce = %q; want a fresh nonce (not %q)", next, nonce)
	}
	wantAllow(t, "second proof, same nonce, new jti", mustCheck(t, client, dpopCall(t, key, token, nonce)))
	wantAllow(t, "the fresh nonce", mustCheck(t, client, dpopCall(t, key, token, next)))

	forged := []byte(nonce)
	forged[5] ^= 1
	d = wantDeny(t, "forged nonce", mustCheck(t, client, dpopCall(t, key, token, string(forged))), 401, "use_dpop_nonce")
	if d.headers["dpop-nonce"] == "" {
		t.Errorf("forged-nonce deny carries no fresh DPoP-Nonce")
	}

	resp = mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: searchCallBody}.request())
	wantAllow(t, "Bearer call with nonces on", resp)
	if n := allowNonce(resp); n != "" {
		t.Errorf("Bearer allow carries DPoP-Nonce %q; want none", n)
	}
}

// TestDPoPNonceSharedAcrossReplicas: a nonce issued by one instance is
// accepted by another sharing the key, with no shared store; an instance
// with another key refuses it.
func TestDPoPNonceSharedAcrossReplicas(t *testing.T) {
	shared := nonceKeyFile(t)
	_, a := startAppYAML(t, nonceConfig(shared))
	_, b := startAppYAML(t, nonceConfig(shared))
	_, other := startAppYAML(t, nonceConfig(nonceKeyFile(t)))
	key := newDPoPKey(t)
	token := mintAccess(t, map[string]any{"cnf": map[string]any{"jkt": key.jkt}})
	d := wantDeny(t, "replica a, no nonce", mustCheck(t, a, dpopCall(t, key, token, "")), 401, "use_dpop_nonce")
	nonce := d.headers["dpop-nonce"]
	wantAllow(t, "replica b, a's nonce", mustCheck(t, b, dpopCall(t, key, token, nonce)))
	wantDeny(t, "replica with another key, a's nonce", mustCheck(t, other, dpopCall(t, key, token, nonce)), 401, "use_dpop_nonce")
}

// TestDPoPNonceConfigRefused: nonces on without a usable key refuse to start.
func TestDPoPNonceConfigRefused(t *testing.T) {
	short := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(short, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []string{
		e2eConfig + "dpop:\n  nonce:\n    enabled: true\n",
		nonceConfig(short),
		nonceConfig(filepath.Join(t.TempDir(), "missing.key")),
	} {
		if err := startFails(t, cfg); err == nil {
			t.Errorf("app with %q started; want it refused", cfg[len(e2eConfig):])
		}
	}
}
