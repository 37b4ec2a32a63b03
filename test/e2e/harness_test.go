package e2e

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mcp-authz/mcp-authz/internal/devjwt"
	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// Values of the test issuer in testdata/keys.
const (
	e2eIssuer   = "https://auth.example.test"
	e2eResource = "https://mcp.example.test/mcp"
	e2eKeyID    = "bench-key-1"
)

// Bodies of the MCP messages the tests send.
const (
	toolsListBody  = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	searchCallBody = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","arguments":{"query":"x"}}}`
)

// e2eConfig is testConfig (its policy deadline is generous enough for the
// race detector on shared cores: these tests judge decisions, never latency).
const e2eConfig = testConfig

// startAppYAML runs the real app from a YAML configuration on loopback and
// returns it with an ext_authz client; both are stopped at the end of t.
func startAppYAML(t testing.TB, yaml string) (*app.App, authv3.AuthorizationClient) {
	t.Helper()
	a, client, _ := startAppConn(t, yaml)
	return a, client
}

// startAppConn is startAppYAML that also returns the connection (for the
// health client).
func startAppConn(t testing.TB, yaml string) (*app.App, authv3.AuthorizationClient, *grpc.ClientConn) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
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
	return a, authv3.NewAuthorizationClient(conn), conn
}

// e2eKey is the test-only RS256 key of testdata/keys/private.pem.
var e2eKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return devjwt.ReadRSAKey("testdata/keys/private.pem")
})

// mintAccess signs an access token for alice (admin) at the test resource
// with the test key; over replaces claims (a nil value deletes one).
func mintAccess(t testing.TB, over map[string]any) string {
	t.Helper()
	return mintAccessKID(t, e2eKeyID, over)
}

// mintAccessKID is mintAccess with the kid header kid ("" for none).
func mintAccessKID(t testing.TB, kid string, over map[string]any) string {
	t.Helper()
	key, err := e2eKey()
	if err != nil {
		t.Fatalf("test key: %v", err)
	}
	now := time.Now()
	claims := map[string]any{
		"iss": e2eIssuer, "sub": "alice", "aud": e2eResource, "roles": []string{"admin"},
		"scope": "mcp:tools mcp:resources mcp:prompts", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	tok, err := devjwt.SignRS256(key, kid, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mcpPost describes one MCP POST as Envoy's ext_authz filter reports it.
type mcpPost struct {
	host, path, scheme string
	authorization      string
	body               string
	headers            map[string]string // extra headers, e.g. dpop
	ctxExt             map[string]string // context_extensions
}

// request builds the CheckRequest (headers map, body as a string).
func (p mcpPost) request() *authv3.CheckRequest {
	host, path, scheme := p.host, p.path, p.scheme
	if host == "" {
		host = "mcp.example.test"
	}
	if path == "" {
		path = "/mcp"
	}
	if scheme == "" {
		scheme = "https"
	}
	h := map[string]string{
		":authority": host, ":method": "POST", ":path": path, ":scheme": scheme,
		"content-type": "application/json", "content-length": strconv.Itoa(len(p.body)),
		"mcp-protocol-version": "2025-06-18", "accept": "application/json, text/event-stream",
		"x-envoy-auth-partial-body": "false",
	}
	if p.authorization != "" {
		h["authorization"] = p.authorization
	}
	for k, v := range p.headers {
		h[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: path, Host: host, Scheme: scheme, Protocol: "HTTP/1.1",
			Headers: h, Body: p.body, Size: int64(len(p.body)),
		}},
		ContextExtensions: p.ctxExt,
	}}
}

// checkBound bounds one Check a test waits for: it only turns a hang into a
// failure. It is far above any latency, so a slow or loaded CI machine
// (race detector, shared cores) never fails a test judging decisions.
const checkBound = 30 * time.Second

// eventualBound bounds a wait for something that happens in the background
// (a poll, a reload, a refresh): generous for the same reason.
const eventualBound = 30 * time.Second

// mustCheck sends req and fails the test on a gRPC error (a deny is never one).
func mustCheck(t testing.TB, client authv3.AuthorizationClient, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), checkBound)
	defer cancel()
	resp, err := client.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check error %v; want a response", err)
	}
	return resp
}

// denyView flattens a denied response: HTTP status, reason, headers, body.
type denyView struct {
	status  int
	reason  string
	headers map[string]string
	body    string
}

// denyOf returns the deny of resp, or ok false when resp is an allow.
func denyOf(resp *authv3.CheckResponse) (denyView, bool) {
	d := resp.GetDeniedResponse()
	if d == nil {
		return denyView{}, false
	}
	v := denyView{status: int(d.GetStatus().GetCode()), headers: map[string]string{}, body: d.GetBody()}
	for _, h := range d.GetHeaders() {
		v.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	v.reason = v.headers["x-mcp-authz-reason"]
	return v, true
}

// wantAllow fails unless resp is an allow.
func wantAllow(t testing.TB, what string, resp *authv3.CheckResponse) {
	t.Helper()
	if decision(resp) != "allow" {
		d, _ := denyOf(resp)
		t.Errorf("%s: deny %d %q (%s); want allow", what, d.status, d.reason, d.headers["www-authenticate"])
	}
}

// wantDeny fails unless resp is a deny with status and reason, and returns it.
func wantDeny(t testing.TB, what string, resp *authv3.CheckResponse, status int, reason string) denyView {
	t.Helper()
	d, ok := denyOf(resp)
	if !ok || decision(resp) != "deny" {
		t.Errorf("%s: allow; want deny %d %q", what, status, reason)
		return d
	}
	if d.status != status || d.reason != reason {
		t.Errorf("%s: deny %d %q; want %d %q", what, d.status, d.reason, status, reason)
	}
	return d
}
