package envoyshim

import (
	"log"
	"net/url"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	procv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Start builds a gate from cfg, serves it on loopback and closes it at the
// end of t. What the proxy logs (an upstream failing mid-response, which a
// client sees only as a truncated stream) goes to t's log, so a failure
// that happens once under load says why.
func Start(t testing.TB, cfg Config) *Gate {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("envoyshim.New: %v", err)
	}
	tl := &testLog{t: t}
	g.proxy.ErrorLog = log.New(tl, "envoyshim: ", 0)
	if err := g.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = g.Close()
		tl.stop()
	})
	return g
}

// testLog writes to t's log until stop: a handler still running after the
// gate closed must not log into a finished test.
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

// Dial opens a plaintext gRPC connection to addr (an ext_authz or ext_proc
// listener on loopback), closed at the end of t.
func Dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("envoyshim.Dial(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// AuthzClient is the ext_authz client of a connection.
func AuthzClient(conn grpc.ClientConnInterface) authv3.AuthorizationClient {
	return authv3.NewAuthorizationClient(conn)
}

// ExtProcClient is the ext_proc client of a connection.
func ExtProcClient(conn grpc.ClientConnInterface) procv3.ExternalProcessorClient {
	return procv3.NewExternalProcessorClient(conn)
}

// MustURL parses a URL or fails t.
func MustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("url %q: %v", raw, err)
	}
	return u
}
