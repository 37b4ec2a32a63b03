package e2e

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// testSTS is an in-process RFC 8693 security token service: it validates
// every parameter of the exchange and issues opaque tokens it remembers.
type testSTS struct {
	t        *testing.T
	secret   string
	requests atomic.Int64
	mu       sync.Mutex
	forms    []url.Values
	hold     chan struct{} // when non-nil, each request waits for it to close
	once     sync.Once
}

// release lets held requests through (at the latest when the test ends).
func (s *testSTS) release() {
	s.once.Do(func() {
		if s.hold != nil {
			close(s.hold)
		}
	})
}

func (s *testSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	if s.hold != nil {
		<-s.hold
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != "mcp-authz" || secret != s.secret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" ||
		r.PostForm.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token" ||
		r.PostForm.Get("subject_token") == "" || r.PostForm.Get("audience") != r.PostForm.Get("resource") {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.forms = append(s.forms, r.PostForm)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "sts-token-" + strconv.FormatInt(n, 10),
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 300})
}

func (s *testSTS) lastForm(t *testing.T) url.Values {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.forms) == 0 {
		t.Fatal("the STS received no valid exchange")
	}
	return s.forms[len(s.forms)-1]
}

// exchangeConfig runs the default hop in exchange mode against srv, the
// STS configured on the test issuer; %s are endpoint, secret file, CA file.
const exchangeConfig = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
    token_exchange:
      endpoint: %s/token
      client_id: mcp-authz
      client_secret_file: %s
      ca_file: %s
      timeout: 300ms
policy:
  deadline: 5s
upstream_token:
  mode: exchange
  audience: https://issues.internal.example.test/mcp
`

// startExchange starts an STS and the app exchanging tokens with it.
func startExchange(t *testing.T, sts *testSTS) (*httptest.Server, authv3.AuthorizationClient) {
	t.Helper()
	sts.t, sts.secret = t, "s3cret-"+t.Name()
	srv := httptest.NewTLSServer(sts)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	secret, ca := filepath.Join(dir, "secret"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(secret, []byte(sts.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, client := startAppYAML(t, fmt.Sprintf(exchangeConfig, srv.URL, secret, ca))
	t.Cleanup(sts.release) // runs first: no held request outlives the test
	return srv, client
}

// TestTokenExchangeMode: an allowed call reaches the upstream with the
// token the STS issued for the upstream's audience and the call's scope,
// in exchange for the caller's verified token; the next identical call
// reuses it; a denied call exchanges nothing.
func TestTokenExchangeMode(t *testing.T) {
	sts := &testSTS{}
	_, client := startExchange(t, sts)
	caller := mintAccess(t, nil)
	req := withCallerCredentials(mcpPost{authorization: "Bearer " + caller, body: searchCallBody}.request())
	resp := mustCheck(t, client, req)
	wantAllow(t, "exchange", resp)
	up := envoyApply(t, req.GetAttributes().GetRequest().GetHttp().GetHeaders(), resp.GetOkResponse())
	if tok := upstreamBearer(t, up); tok != "sts-token-1" {
		t.Errorf("upstream token %q; want the STS's sts-token-1", tok)
	}
	for _, c := range []string{"cookie", "proxy-authorization"} {
		if _, ok := up[c]; ok {
			t.Errorf("upstream sees the caller's %s", c)
		}
	}
	f := sts.lastForm(t)
	want := map[string]string{"subject_token": caller, "audience": "https://issues.internal.example.test/mcp",
		"resource": "https://issues.internal.example.test/mcp", "scope": "mcp:tools/call:issues/search_issues"}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("STS got %s = %.60q; want %.60q", k, f.Get(k), v)
		}
	}
	wantAllow(t, "again", mustCheck(t, client, mcpPost{authorization: "Bearer " + caller, body: searchCallBody}.request()))
	denied := `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`
	wantDeny(t, "unregistered tool", mustCheck(t, client, mcpPost{authorization: "Bearer " + caller, body: denied}.request()), 200, "tool_not_registered")
	if n := sts.requests.Load(); n != 1 {
		t.Errorf("STS requests = %d; want 1 (the repeat is cached, the deny exchanges nothing)", n)
	}
}

// TestTokenExchangeSTSDown: with the STS unreachable an allowed call is a
// 503 token_exchange_failed, never the caller's token passed through.
func TestTokenExchangeSTSDown(t *testing.T) {
	srv, client := startExchange(t, &testSTS{})
	srv.Close()
	resp := mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: searchCallBody}.request())
	wantDeny(t, "STS down", resp, 503, "token_exchange_failed")
	wantNoToken(t, 0, resp)
}

// TestTokenExchangeSTSSlow: an STS that does not answer within
// token_exchange.timeout is a 503 token_exchange_failed.
func TestTokenExchangeSTSSlow(t *testing.T) {
	sts := &testSTS{hold: make(chan struct{})} // released only at the end: the request outlives the timeout
	_, client := startExchange(t, sts)
	resp := mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: searchCallBody}.request())
	wantDeny(t, "STS slow", resp, 503, "token_exchange_failed")
	if sts.requests.Load() != 1 {
		t.Errorf("STS requests = %d; want the one that timed out", sts.requests.Load())
	}
}

// TestTokenExchangeBurst: concurrent identical calls while the STS is
// answering cost one exchange (singleflight), and all are allowed with it.
func TestTokenExchangeBurst(t *testing.T) {
	sts := &testSTS{hold: make(chan struct{})}
	_, client := startExchange(t, sts)
	caller := mintAccess(t, nil)
	const burst = 8
	results := make(chan *authv3.CheckResponse, burst)
	for range burst {
		go func() {
			resp, err := client.Check(t.Context(), mcpPost{authorization: "Bearer " + caller, body: searchCallBody}.request())
			if err != nil {
				resp = nil
			}
			results <- resp
		}()
	}
	waitFor(t, "the burst's STS request", func() bool { return sts.requests.Load() > 0 })
	sts.release()
	for range burst {
		resp := <-results
		if resp == nil || bearerSet(resp.GetOkResponse()) != "sts-token-1" {
			t.Errorf("burst call = %v; want an allow with sts-token-1", resp.GetStatus())
		}
	}
	if n := sts.requests.Load(); n != 1 {
		t.Errorf("a burst of %d made %d STS requests; want 1", burst, n)
	}
}
