package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// recordingUpstream answers every request with an empty JSON-RPC result
// and keeps the headers it received.
type recordingUpstream struct {
	mu   sync.Mutex
	seen []http.Header
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.seen = append(u.seen, r.Header.Clone())
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`)
}

func (u *recordingUpstream) last(t *testing.T) http.Header {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.seen[len(u.seen)-1]
}

func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// TestMintedTokenThroughEnvoyGate sends real HTTP through the Envoy-shaped
// gate (test/envoyshim, which applies the CheckResponse as Envoy does) to a
// recording upstream: a DPoP-bound caller with a cookie and a
// Proxy-Authorization reaches the upstream with only the minted Bearer
// token, which verifies against the JWKS fetched from the public listener;
// a denied call never reaches it.
func TestMintedTokenThroughEnvoyGate(t *testing.T) {
	a, client := startMinting(t, "ES256")
	rec := &recordingUpstream{}
	up := httptest.NewServer(rec)
	t.Cleanup(up.Close)
	cfg := mcpharness.GateDefaults()
	cfg.Authz, cfg.Upstream, cfg.SourcePrincipal = client, envoyshim.MustURL(t, up.URL), callerWorkload
	gate := envoyshim.Start(t, cfg)
	key, err := mcpharness.NewDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	caller := mintAccess(t, map[string]any{"cnf": map[string]any{"jkt": key.JKT}, "client_id": "planner-app"})
	hc := mcpharness.HTTPClient(mcpharness.Auth{Token: caller, DPoP: key, Host: "mcp.example.test", PublicURL: e2eResource})

	post := func(body string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", gate.URL()+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		req.Header.Set("Cookie", "session=caller-secret")
		req.Header.Set("Proxy-Authorization", "Basic Y2FsbGVyOnNlY3JldA==")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST through the gate: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(searchCallBody); code != 200 {
		t.Fatalf("allowed call through the gate = %d; want 200", code)
	}
	h := rec.last(t)
	for _, c := range []string{"Dpop", "Cookie", "Proxy-Authorization"} {
		if v := h.Values(c); len(v) != 0 {
			t.Errorf("upstream received the caller's %s %q", c, v)
		}
	}
	auth := h.Values("Authorization")
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") || strings.Contains(auth[0], caller) {
		t.Fatalf("upstream Authorization = %q; want only the minted Bearer token", auth)
	}
	m, err := verifyMinted(t, fetchJWKS(t, a.Addr("public")), strings.TrimPrefix(auth[0], "Bearer "), e2eResource, time.Now())
	if err != nil {
		t.Fatalf("minted token at the upstream does not verify: %v", err)
	}
	if m.claims["client_id"] != "planner-app" || m.claims["scope"] != "mcp:tools/call:issues/search_issues" || m.claims["cnf"] != nil {
		t.Errorf("claims client_id %v scope %v cnf %v; want planner-app, the call's scope, no binding", m.claims["client_id"], m.claims["scope"], m.claims["cnf"])
	}
	if got, want := jsonOf(m.claims["act"]), fmt.Sprintf(`{"sub":%q}`, callerWorkload); got != want {
		t.Errorf("act = %s; want %s", got, want)
	}

	n := rec.count()
	denied := `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`
	if code := post(denied); code != 200 {
		t.Errorf("denied call = %d; want the JSON-RPC error's 200", code)
	}
	if rec.count() != n {
		t.Error("a denied call reached the upstream")
	}
}
