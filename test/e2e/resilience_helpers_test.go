package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// keySetServer is a loopback HTTPS key-set endpoint the test steers: it
// serves a body, or accepts a request and never answers (hang) until the
// test ends.
type keySetServer struct {
	srv     *httptest.Server
	hits    atomic.Int32
	mu      sync.Mutex
	body    []byte
	hang    bool
	release chan struct{}
}

// newKeySetServer serves body at every path; it is closed at the end of t
// (after the app, whose cleanup was registered later, has stopped).
func newKeySetServer(t *testing.T, body []byte) *keySetServer {
	t.Helper()
	s := &keySetServer{body: body, release: make(chan struct{})}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.release)
		s.srv.Close()
	})
	return s
}

func (s *keySetServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, hang := s.body, s.hang
	s.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// set changes the answer: a body, or a hang.
func (s *keySetServer) set(body []byte, hang bool) {
	s.mu.Lock()
	s.body, s.hang = body, hang
	s.mu.Unlock()
}

// caFile writes the server's certificate as a PEM file.
func (s *keySetServer) caFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged is startAppConn with the app's JSON logs (at cfg's
// log_level) written to logs.
func startLogged(t *testing.T, yaml string, logs io.Writer) (*app.App, authv3.AuthorizationClient) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	a.Start()
	t.Cleanup(func() {
		if err := a.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	conn, err := grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return a, authv3.NewAuthorizationClient(conn)
}

// remoteIssuerConfig is a configuration whose one issuer fetches its keys
// from srv; refetches are allowed every 50ms of real time.
func remoteIssuerConfig(t *testing.T, srv *keySetServer, extra string) string {
	return `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
log_level: debug
# The mechanism under test, with room for a race-enabled run on busy shared
# cores: a Check ends 1s (the largest margin) before its caller's deadline,
# and that second is what the answer has to travel back in.
check_deadline_margin: 1s
policy:
  deadline: 2s
identity:
  fetch_timeout: 30s
  jwks_refresh: 1h
  min_refetch_interval: 50ms
issuers:
  - issuer: https://auth.example.test
    jwks_url: ` + srv.srv.URL + `/jwks.json?api_key=S3CRET-QUERY-VALUE
    ca_file: ` + srv.caFile(t) + `
` + extra
}

// pastRefetchInterval waits until an on-demand refetch is allowed again
// (min_refetch_interval of remoteIssuerConfig). It waits for an event, it
// asserts no duration.
func pastRefetchInterval() { time.Sleep(60 * time.Millisecond) }

// testKeySet returns the JWK Set of testdata/keys as generic JSON.
func testKeySet(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/keys/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set map[string]any
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// testKeyWith returns a copy of the test key's JWK with members changed.
func testKeyWith(t *testing.T, kv ...any) map[string]any {
	t.Helper()
	k := map[string]any{}
	for name, v := range testKeySet(t)["keys"].([]any)[0].(map[string]any) {
		k[name] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k[kv[i].(string)] = kv[i+1]
	}
	return k
}

// keySetOf marshals a JWK Set of keys.
func keySetOf(t *testing.T, keys ...any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readyz returns the admin /readyz status code and decoded body.
func readyz(t *testing.T, a *app.App) (int, map[string]any) {
	t.Helper()
	res, err := http.Get("http://" + a.Addr("admin") + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer res.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/readyz body %q: %v", raw, err)
	}
	body["_raw"] = string(raw)
	return res.StatusCode, body
}

// adminGet returns the body of an admin path.
func adminGet(t *testing.T, a *app.App, path string) string {
	t.Helper()
	res, err := http.Get("http://" + a.Addr("admin") + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// firstIssuer returns the first issuer object of a /readyz body.
func firstIssuer(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	list, _ := body["issuers"].([]any)
	if len(list) == 0 {
		t.Fatalf("/readyz has no issuers: %v", body["_raw"])
	}
	return list[0].(map[string]any)
}
