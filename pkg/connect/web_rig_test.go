package connect

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/internal/devjwt"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/credstore"
	"github.com/mcp-authz/mcp-authz/test/oauthtest"
)

// rig is the browser flow on loopback: the connect pages, an OIDC login
// issuer, a third-party OAuth provider ("mail") and an API-key provider
// ("keys"), with a clock the test moves.
type rig struct {
	t         *testing.T
	svc       *Service
	base      string
	srv       *httptest.Server
	idp, prov *oauthtest.Server
	observed  []string

	mu  sync.Mutex
	now time.Time
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, false)
}

// newRigWith serves the connect pages over TLS when tls is set (the base URL
// is then https: __Host- cookies, Secure).
func newRigWith(t *testing.T, tls bool) *rig {
	t.Helper()
	key, err := devjwt.ReadRSAKey("../../test/e2e/testdata/keys/private.pem")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, now: time.Now()}
	srv := httptest.NewUnstartedServer(nil)
	r.base = "http://" + srv.Listener.Addr().String()
	if tls {
		r.base = "https://" + srv.Listener.Addr().String()
	}
	r.idp = oauthtest.StartIssuer(t, oauthtest.Options{ClientID: "mcp-authz", ClientSecret: "login-secret",
		RedirectURI: r.base + "/connect/callback/login", Key: key, KeyID: "k1"})
	r.prov = oauthtest.StartProvider(t, oauthtest.Options{ClientID: "mail-client", ClientSecret: "mail-secret",
		RedirectURI: r.base + "/connect/callback/provider"})
	r.svc = r.service(t)
	h, err := r.svc.Handler(HandlerOptions{Observe: func(o, reason string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.observed = append(r.observed, o+":"+reason)
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	r.srv = srv
	return r
}

func (r *rig) service(t *testing.T) *Service {
	t.Helper()
	k := make([]byte, credstore.KeySize)
	_, _ = rand.Read(k)
	kr, err := credstore.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := credstore.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.Clock = r.clock
	store := credstore.New(b, kr)
	t.Cleanup(func() { _ = store.Close() })
	cfg := &config.Config{Providers: []config.Provider{
		{Name: "mail", Kind: "oauth2", AuthorizationEndpoint: r.prov.AuthURL(), TokenEndpoint: r.prov.TokenURL(),
			ClientID: "mail-client", ClientSecretFile: writeFile(t, "mail-secret", "mail-secret\n"),
			Scopes: []string{"mail.read"}, Header: "x-mcp-connection-mail"},
		{Name: "keys", Kind: "api_key", Pattern: `kk_[a-z0-9]{8,}`, Header: "x-mcp-connection-keys"}},
		Connect: config.Connect{LoginIssuer: r.idp.URL, ClientID: "mcp-authz",
			ClientSecretFile: writeFile(t, "login-secret", "login-secret"), BaseURL: r.base,
			ElicitationTTL: config.Duration(10 * time.Minute), RequestStateTTL: config.Duration(5 * time.Minute), CapabilityCache: 8}}
	s, err := New(cfg, store, r.clock)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// elicit records an elicitation for sub at the login issuer.
func (r *rig) elicit(sub, provider string, scopes ...string) Elicitation {
	r.t.Helper()
	e, err := r.svc.Elicit(context.Background(), Binding{Issuer: r.idp.URL, Subject: sub, ClientID: "cli",
		Provider: provider, Scopes: scopes})
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

// browser is a fresh browser: a cookie jar; follow says whether it follows redirects.
func browser(t *testing.T, follow bool) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// get fetches u and returns the status, the final URL and the body.
func get(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return finish(t, resp)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	return finish(t, resp)
}

func finish(t *testing.T, resp *http.Response) (int, string, string) {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	loc := resp.Request.URL.String()
	if l := resp.Header.Get("Location"); l != "" {
		loc = l
	}
	return resp.StatusCode, loc, string(b)
}

// stored returns sub's mail credential (ok false when there is none).
func (r *rig) stored(sub, provider string) (credstore.Credential, bool) {
	c, err := r.svc.Store().Get(context.Background(), credstore.Key{Issuer: r.idp.URL, Subject: sub, Provider: provider})
	return c, err == nil
}
