package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcp-authz/mcp-authz/internal/devjwt"
)

// mintKID is mintAccess signed by key under kid.
func mintKID(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	now := time.Now()
	tok, err := devjwt.SignRS256(key, kid, map[string]any{
		"iss": e2eIssuer, "sub": "alice", "aud": e2eResource, "roles": []string{"admin"},
		"scope": "mcp:tools", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := e2eKey()
	if err != nil {
		t.Fatalf("test key: %v", err)
	}
	return k
}

// checkWithin sends req with a deadline of d and returns the response; a
// gRPC error (DEADLINE_EXCEEDED above all) fails the test (nil is
// returned, which wantAllow/wantDeny report): every Check must get an
// explicit answer in time. Safe to call from any goroutine.
func checkWithin(t *testing.T, client authv3.AuthorizationClient, req *authv3.CheckRequest, d time.Duration) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	resp, err := client.Check(ctx, req)
	if err != nil {
		t.Errorf("Check with a %s deadline: %v; want an explicit CheckResponse before the deadline", d, err)
		return nil
	}
	return resp
}

// TestResilienceDeadlineBoundedRefetch: the key-set endpoint accepts and
// never answers. A Check whose token names an unknown kid needs a refetch;
// with a 3s deadline (far below the 30s fetch_timeout) it gets an explicit
// 503 issuer_unavailable before the deadline (not DEADLINE_EXCEEDED), a
// second one joins the same hung fetch and is answered the same way, and
// Checks with the known kid keep being allowed throughout. The Check gives
// up check_deadline_margin (1s) before the deadline: a margin of tens of
// milliseconds would make the test depend on the machine's speed.
func TestResilienceDeadlineBoundedRefetch(t *testing.T) {
	srv := newKeySetServer(t, keySetOf(t, testKeyWith(t)))
	_, client := startLogged(t, remoteIssuerConfig(t, srv, ""), &syncBuffer{})
	key := testRSAKey(t)
	known := mcpPost{authorization: "Bearer " + mintKID(t, key, e2eKeyID), body: toolsListBody}.request()
	unknown := mcpPost{authorization: "Bearer " + mintKID(t, key, "rotated-2"), body: toolsListBody}.request()
	wantAllow(t, "known kid before the hang", checkWithin(t, client, known, checkBound))

	srv.set(nil, true)
	pastRefetchInterval()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 { // known-kid Checks keep flowing while the refetch hangs
			wantAllow(t, "known kid during the hung refetch #"+string(rune('a'+i)), checkWithin(t, client, known, checkBound))
		}
	})
	for range 2 {
		start := time.Now()
		resp := checkWithin(t, client, unknown, 3*time.Second)
		t.Logf("unknown-kid Check answered after %s", time.Since(start))
		if resp == nil {
			continue
		}
		d := wantDeny(t, "unknown kid needing a refetch", resp, 503, "issuer_unavailable")
		if !strings.Contains(d.body, "-32603") {
			t.Errorf("deny body %q; want the JSON-RPC internal error with the request's id", d.body)
		}
	}
	wg.Wait()
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("key-set requests = %d; want 2 (the first fetch, then one refetch both Checks joined)", got)
	}
}

// TestResilienceKeySetWithPrivateMembersRefused: once the endpoint
// publishes a private member for any key, the whole set is refused: the
// key it added is not trusted, the last good set keeps serving, /readyz
// shows the issuer's last error and the refusal is counted and logged.
func TestResilienceKeySetWithPrivateMembersRefused(t *testing.T) {
	srv := newKeySetServer(t, keySetOf(t, testKeyWith(t)))
	logs := &syncBuffer{}
	a, client := startLogged(t, remoteIssuerConfig(t, srv, ""), logs)
	key := testRSAKey(t)
	leaked := testKeyWith(t, "kid", "leaked-2", "d", "AQAB", "p", "AQAB")
	srv.set(keySetOf(t, testKeyWith(t), leaked), false)
	pastRefetchInterval()

	leakedReq := mcpPost{authorization: "Bearer " + mintKID(t, key, "leaked-2"), body: toolsListBody}.request()
	wantDeny(t, "token naming a key of the refused set", checkWithin(t, client, leakedReq, checkBound), 401, "token_invalid")
	known := mcpPost{authorization: "Bearer " + mintKID(t, key, e2eKeyID), body: toolsListBody}.request()
	wantAllow(t, "known kid of the last good set", checkWithin(t, client, known, checkBound))

	code, body := readyz(t, a)
	is := firstIssuer(t, body)
	if code != 200 || is["has_keys"] != true || !strings.Contains(is["last_error"].(string), "private key material") {
		t.Errorf("/readyz = %d %v; want 200, keys, last_error naming private key material", code, body["_raw"])
	}
	metrics := adminGet(t, a, "/metrics")
	if !strings.Contains(metrics, `mcp_authz_issuer_key_sets_refused_total{issuer="https://auth.example.test",reason="private_material"} 1`) {
		t.Errorf("/metrics lacks the refused key set:\n%s", grepLines(metrics, "refused"))
	}
	if !strings.Contains(logs.String(), "publishes private key material") {
		t.Errorf("logs lack the refusal:\n%s", logs.String())
	}
}

// TestResilienceUnusableKeysSkipped: keys that cannot serve (too weak, use
// enc, key_ops without verify, unknown kty, a kid shared by two keys) are
// skipped, each logged once across refetches and counted, and the usable
// key keeps working.
func TestResilienceUnusableKeysSkipped(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakJWK := map[string]any{"kty": "RSA", "kid": "weak", "alg": "RS256", "e": "AQAB",
		"n": base64.RawURLEncoding.EncodeToString(weak.N.Bytes())}
	set := keySetOf(t, testKeyWith(t), weakJWK,
		testKeyWith(t, "kid", "enc", "use", "enc"),
		testKeyWith(t, "kid", "signonly", "key_ops", []string{"sign"}),
		map[string]any{"kty": "XYZ", "kid": "alien"},
		testKeyWith(t, "kid", "dup"), testKeyWith(t, "kid", "dup", "n", base64.RawURLEncoding.EncodeToString(big.NewInt(0).Lsh(big.NewInt(1), 2047).Bytes())))
	srv := newKeySetServer(t, set)
	logs := &syncBuffer{}
	a, client := startLogged(t, remoteIssuerConfig(t, srv, ""), logs)
	key := testRSAKey(t)
	wantAllow(t, "usable key", checkWithin(t, client, mcpPost{authorization: "Bearer " + mintKID(t, key, e2eKeyID), body: toolsListBody}.request(), checkBound))
	for _, kid := range []string{"dup", "enc", "signonly"} { // each also forces a refetch of the same set
		pastRefetchInterval()
		req := mcpPost{authorization: "Bearer " + mintKID(t, key, kid), body: toolsListBody}.request()
		wantDeny(t, "token naming skipped key "+kid, checkWithin(t, client, req, checkBound), 401, "token_invalid")
	}
	pastRefetchInterval()
	req := mcpPost{authorization: "Bearer " + mintKID(t, weak, "weak"), body: toolsListBody}.request()
	wantDeny(t, "token of the weak key", checkWithin(t, client, req, checkBound), 401, "token_invalid")

	_, body := readyz(t, a)
	if is := firstIssuer(t, body); is["skipped_keys"] != float64(5) || is["keys"] != float64(1) {
		t.Errorf("/readyz issuer = %v; want 1 key and 5 skipped", is)
	}
	for _, reason := range []string{"too_weak", "use_not_sig", "key_ops_without_verify", "unknown_kty", "duplicate_kid"} {
		if n := strings.Count(logs.String(), `"reason":"`+reason+`"`); n != 1 {
			t.Errorf("log lines for skipped reason %s = %d; want 1 (logged once across refetches)", reason, n)
		}
	}
	if m := adminGet(t, a, "/metrics"); !strings.Contains(m, `mcp_authz_issuer_keys_skipped_total{issuer="https://auth.example.test"} 5`) {
		t.Errorf("/metrics lacks 5 skipped keys:\n%s", grepLines(m, "skipped"))
	}
}
