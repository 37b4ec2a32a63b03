package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
	"github.com/mcp-authz/mcp-authz/test/oauthtest"
)

// connectHost is the public name of the connect pages in these tests; the
// browser's dialer sends it to the public listener.
const connectHost = "connect.example.test"

// browserStack is the whole connect flow on loopback: the MCP stack with
// minting on, the login issuer (also the issuer of the users' access
// tokens), the mail provider, and a clock the test can move.
type browserStack struct {
	*mcpharness.Stack
	idp, prov *oauthtest.Server
	minter    *mcpharness.Minter
	log       *checkLog
	dlog      string

	mu     sync.Mutex
	offset time.Duration
}

func (b *browserStack) now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Now().Add(b.offset)
}

func (b *browserStack) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.offset += d
}

func writeSecret(t *testing.T, dir, name, v string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startBrowserStack runs it all; stateless selects the 2026-07-28 upstream.
func startBrowserStack(t *testing.T, stateless bool) *browserStack {
	t.Helper()
	key, err := e2eKey()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + connectHost
	b := &browserStack{log: &checkLog{}}
	b.idp = oauthtest.StartIssuer(t, oauthtest.Options{ClientID: "mcp-authz", ClientSecret: "login-secret",
		RedirectURI: base + "/connect/callback/login", Key: key, KeyID: e2eKeyID})
	b.prov = oauthtest.StartProvider(t, oauthtest.Options{ClientID: "mail-client", ClientSecret: "mail-secret",
		RedirectURI: base + "/connect/callback/provider"})
	b.minter = mcpharness.NewMinter(t, "testdata/keys/private.pem", e2eKeyID, b.idp.URL, e2eResource)
	dir := t.TempDir()
	b.dlog = filepath.Join(dir, "decisions.jsonl")
	b.Stack = mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:     browserConfig(t, b, dir, base),
		AppOptions: []app.Option{app.WithConnectClock(b.now)},
		Upstream:   mcpharness.UpstreamOptions{RegistryFile: registryFile, Stateless: stateless},
		Gate:       func(c *envoyshim.Config) { c.Observe = b.log.observe },
	})
	return b
}

func browserConfig(t *testing.T, b *browserStack, dir, base string) string {
	t.Helper()
	return `listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
public_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
issuers:
  - issuer: ` + b.idp.URL + `
    jwks_file: testdata/keys/jwks.json
policy: {deadline: 5s}
token_minting:
  issuer: ` + mintIssuer + `
  signing_key_files: [` + writeSigningKey(t, dir, "signing.pem", "ES256") + `]
  algorithm: ES256
upstream_token: {mode: mint}
decision_log: {output: file, path: ` + b.dlog + `}
bundle: {path: ` + connectBundle(t) + `}
providers:
  - name: mail
    authorization_endpoint: ` + b.prov.AuthURL() + `
    token_endpoint: ` + b.prov.TokenURL() + `
    client_id: mail-client
    client_secret_file: ` + writeSecret(t, dir, "mail-secret", "mail-secret") + `
    scopes: [mail.read]
connect:
  client_id: mcp-authz
  client_secret_file: ` + writeSecret(t, dir, "login-secret", "login-secret") + `
  base_url: ` + base + `
  state_dir: ` + dir + `
  encryption_key_file: ` + writeCredKey(t, dir) + "\n"
}

// auth is sub's MCP client credentials (an access token of the login issuer).
func (b *browserStack) auth(t *testing.T, sub string) mcpharness.Auth {
	return mcpharness.Auth{Token: b.minter.Mint(t, sub, []string{"admin"}, nil), Host: "mcp.example.test", PublicURL: e2eResource}
}

// browser is a fresh browser (cookie jar) that reaches connectHost at the
// public listener; follow says whether it follows redirects.
func (b *browserStack) browser(t *testing.T, follow bool) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	public := b.App.Addr("public")
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == connectHost+":80" {
			addr = public
		}
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// open fetches u and returns the status, the Location (or final URL) and the page.
func open(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	loc := resp.Request.URL.String()
	if l := resp.Header.Get("Location"); l != "" {
		loc = l
	}
	return resp.StatusCode, loc, string(body)
}

// elicitURL makes sub's 2025-11-25 call and returns the elicitation URL of
// the -32042 it gets.
func (b *browserStack) elicitURL(t *testing.T, ctx context.Context, sub string) string {
	t.Helper()
	cs, err := mcpharness.Connect(ctx, t, b.Endpoint, b.auth(t, sub),
		mcpharness.ClientOptions{ProtocolVersion: "2025-11-25", Client: urlClient(&elicitRecorder{}), DisableStandaloneSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeURLElicitationRequired {
		t.Fatalf("%s: want -32042, got %v", sub, err)
	}
	var data struct {
		Elicitations []struct{ URL string } `json:"elicitations"`
	}
	if err := json.Unmarshal(rpcErr.Data, &data); err != nil || len(data.Elicitations) != 1 {
		t.Fatalf("error data %s: %v", rpcErr.Data, err)
	}
	return data.Elicitations[0].URL
}
