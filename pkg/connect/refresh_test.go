package connect

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// tokenEndpoint is an in-process OAuth token endpoint: it counts refresh
// grants, answers each with a new access token and a rotated refresh token,
// and can fail (status with error invalid_grant) or hold a grant until
// release is closed.
type tokenEndpoint struct {
	srv     *httptest.Server
	grants  atomic.Int32
	fail    int           // HTTP status of a failure; 0 answers tokens
	rotate  bool          // answer a new refresh token
	hold    chan struct{} // nil: answer at once
	entered chan struct{} // nil, or receives once per grant (non-blocking)
	mu      sync.Mutex
	spent   []string // refresh tokens presented, in order
	clients []string // client ids presented
}

func startTokenEndpoint(t *testing.T) *tokenEndpoint {
	t.Helper()
	e := &tokenEndpoint{rotate: true}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *tokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	n := e.grants.Add(1)
	id, _, _ := r.BasicAuth()
	e.mu.Lock()
	e.spent = append(e.spent, r.PostForm.Get("refresh_token"))
	e.clients = append(e.clients, id)
	e.mu.Unlock()
	if e.entered != nil {
		select {
		case e.entered <- struct{}{}:
		default:
		}
	}
	if e.hold != nil {
		select {
		case <-e.hold:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if e.fail != 0 {
		w.WriteHeader(e.fail)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token revoked"}`))
		return
	}
	resp := map[string]any{"access_token": "at-" + string(rune('0'+n)), "token_type": "Bearer", "expires_in": 3600}
	if e.rotate {
		resp["refresh_token"] = "rt-" + string(rune('0'+n))
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// countingBackend counts credential reads and reports when want were made.
type countingBackend struct {
	credstore.Backend
	gets    atomic.Int32
	want    int32
	reached chan struct{}
	once    sync.Once
}

func (b *countingBackend) Get(ctx context.Context, id string) ([]byte, error) {
	if b.gets.Add(1) >= b.want && b.reached != nil {
		b.once.Do(func() { close(b.reached) })
	}
	return b.Backend.Get(ctx, id)
}

// oauthService is a service with one oauth2 provider, mail, whose token
// endpoint is tokenURL, over a bolt store wrapped in a countingBackend.
func oauthService(t *testing.T, now *time.Time, tokenURL string) (*Service, *countingBackend) {
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
	b.Clock = func() time.Time { return *now }
	cb := &countingBackend{Backend: b}
	store := credstore.New(cb, kr)
	t.Cleanup(func() { _ = store.Close() })
	cfg := &config.Config{Providers: []config.Provider{{Name: "mail", Kind: "oauth2", ClientID: "mcp-authz-mail",
		AuthorizationEndpoint: "https://mail.example/authorize", TokenEndpoint: tokenURL, Header: "x-mcp-connection-mail"}},
		Connect: config.Connect{BaseURL: "https://c.example", ElicitationTTL: config.Duration(10 * time.Minute),
			RequestStateTTL: config.Duration(5 * time.Minute), CapabilityCache: 2}}
	s, err := New(cfg, store, func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return s, cb
}

var mailKey = credstore.Key{Issuer: "https://idp", Subject: "alice", Provider: "mail"}

func putCred(t *testing.T, s *Service, c credstore.Credential) {
	t.Helper()
	if err := s.store.Put(context.Background(), mailKey, c); err != nil {
		t.Fatal(err)
	}
}

func getCred(t *testing.T, s *Service) credstore.Credential {
	t.Helper()
	c, err := s.store.Get(context.Background(), mailKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func injectMail(s *Service, ctx context.Context) (string, error) {
	inj, err := s.Inject(ctx, mailKey.Issuer, mailKey.Subject, []string{"mail"})
	return inj.Headers["x-mcp-connection-mail"], err
}

// TestRefreshSingleflight: N concurrent calls that all find the credential
// expired spend its refresh token exactly once, all get the new token, and
// the rotated refresh token is stored. The token endpoint holds the grant
// until every caller has read the expired credential, so the callers
// overlap the flight; the count is exact however they are scheduled.
func TestRefreshSingleflight(t *testing.T) {
	const n = 16
	now := time.Unix(1800000000, 0)
	e := startTokenEndpoint(t)
	s, cb := oauthService(t, &now, e.srv.URL)
	putCred(t, s, credstore.Credential{AccessToken: "at-old", RefreshToken: "rt-old", Scopes: []string{"mail.read"},
		ExpiresAt: now.Add(-time.Minute)})
	cb.gets.Store(0)
	cb.want, cb.reached, e.hold = n+1, make(chan struct{}), make(chan struct{}) // n callers + the flight's re-read
	go func() {
		select {
		case <-cb.reached:
		case <-time.After(30 * time.Second): // a safety net, not an assertion: the count holds either way
		}
		close(e.hold)
	}()
	start := make(chan struct{})
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = injectMail(s, context.Background())
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != "at-1" {
			t.Errorf("caller %d: Inject = %q, %v; want at-1", i, got[i], errs[i])
		}
	}
	if g := e.grants.Load(); g != 1 {
		t.Fatalf("refresh grants = %d; want exactly 1", g)
	}
	if tok, err := injectMail(s, context.Background()); err != nil || tok != "at-1" || e.grants.Load() != 1 {
		t.Fatalf("after the refresh: %q %v, grants %d; want the stored token, no new grant", tok, err, e.grants.Load())
	}
	c := getCred(t, s)
	if c.AccessToken != "at-1" || c.RefreshToken != "rt-1" || c.Stale || !c.ExpiresAt.Equal(now.Add(time.Hour)) ||
		len(c.Scopes) != 1 || c.Scopes[0] != "mail.read" {
		t.Fatalf("stored after refresh: %+v; want at-1, rotated rt-1, expiry now+1h, scopes kept", c)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.spent[0] != "rt-old" || e.clients[0] != "" {
		t.Errorf("grant presented refresh token %q, basic-auth client %q", e.spent[0], e.clients[0])
	}
}

// TestRefreshKeepsUnrotatedRefreshToken: a provider that answers without a
// refresh token leaves the old one in place.
func TestRefreshKeepsUnrotatedRefreshToken(t *testing.T) {
	now := time.Unix(1800000000, 0)
	e := startTokenEndpoint(t)
	e.rotate = false
	s, _ := oauthService(t, &now, e.srv.URL)
	putCred(t, s, credstore.Credential{AccessToken: "at-old", RefreshToken: "rt-keep", ExpiresAt: now.Add(5 * time.Second)})
	// 5 s before expiry is inside refreshEarly: refreshed now, not after.
	if tok, err := injectMail(s, context.Background()); err != nil || tok != "at-1" {
		t.Fatalf("Inject = %q, %v; want at-1", tok, err)
	}
	if c := getCred(t, s); c.RefreshToken != "rt-keep" {
		t.Fatalf("refresh token after an unrotated refresh = %q; want rt-keep", c.RefreshToken)
	}
}

// TestRefreshDetachedFromCaller: a caller that went away does not fail the
// refresh (nor mark the credential stale) for the callers that joined it.
func TestRefreshDetachedFromCaller(t *testing.T) {
	now := time.Unix(1800000000, 0)
	e := startTokenEndpoint(t)
	s, _ := oauthService(t, &now, e.srv.URL)
	putCred(t, s, credstore.Credential{AccessToken: "at-old", RefreshToken: "rt-old", ExpiresAt: now.Add(-time.Second)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if tok, err := injectMail(s, ctx); err != nil || tok != "at-1" {
		t.Fatalf("Inject with a cancelled caller = %q, %v; want at-1", tok, err)
	}
	if c := getCred(t, s); c.Stale {
		t.Fatal("a cancelled caller marked the credential stale")
	}
}

// TestRefreshFailureMarksStale: a refused (invalid_grant), failing or
// unreachable token endpoint marks the credential stale without its refresh
// token; the call and the next one elicit (ErrNotConnected), the status says
// not connected, and no further grant is tried.
func TestRefreshFailureMarksStale(t *testing.T) {
	tests := []struct {
		name   string
		status int  // token endpoint failure status
		down   bool // token endpoint unreachable
	}{
		{name: "invalid_grant", status: http.StatusBadRequest},
		{name: "server error", status: http.StatusInternalServerError},
		{name: "unreachable", down: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1800000000, 0)
			e := startTokenEndpoint(t)
			e.fail = tt.status
			if tt.down {
				e.srv.Close() // its address now refuses connections
			}
			s, _ := oauthService(t, &now, e.srv.URL)
			putCred(t, s, credstore.Credential{AccessToken: "at-old", RefreshToken: "rt-old", ExpiresAt: now.Add(-time.Minute)})
			var nc *ErrNotConnected
			if _, err := injectMail(s, context.Background()); !errors.As(err, &nc) || nc.Provider != "mail" || nc.Cause == nil {
				t.Fatalf("Inject = %v; want *ErrNotConnected for mail with the refresh failure as cause", err)
			}
			c := getCred(t, s)
			if !c.Stale || c.RefreshToken != "" || c.AccessToken != "at-old" {
				t.Fatalf("stored after a failed refresh: stale %v, refresh token %q; want stale, dropped", c.Stale, c.RefreshToken)
			}
			grants := e.grants.Load()
			if _, err := injectMail(s, context.Background()); !errors.As(err, &nc) {
				t.Fatalf("next Inject = %v; want *ErrNotConnected (elicit again)", err)
			}
			if st, err := s.Status(context.Background(), mailKey.Issuer, mailKey.Subject); err != nil || st["mail"].Connected {
				t.Fatalf("Status = %+v, %v; want mail not connected", st, err)
			}
			if g := e.grants.Load(); g != grants {
				t.Fatalf("grants %d after the failure, %d before; a dead refresh token was spent again", g, grants)
			}
		})
	}
}

// TestRefreshFailureKeepsNewerCredential: when the connect flow stored a new
// credential while a refresh of the old one failed, the new one is used and
// not marked stale.
func TestRefreshFailureKeepsNewerCredential(t *testing.T) {
	now := time.Unix(1800000000, 0)
	e := startTokenEndpoint(t)
	e.fail, e.hold, e.entered = http.StatusBadRequest, make(chan struct{}), make(chan struct{}, 1)
	s, _ := oauthService(t, &now, e.srv.URL)
	putCred(t, s, credstore.Credential{AccessToken: "at-old", RefreshToken: "rt-old", ExpiresAt: now.Add(-time.Minute)})
	done := make(chan error, 1)
	var tok string
	go func() {
		var err error
		tok, err = injectMail(s, context.Background())
		done <- err
	}()
	select { // the grant is being held: store the new credential now
	case <-e.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the refresh grant never reached the token endpoint")
	}
	putCred(t, s, credstore.Credential{AccessToken: "at-reconnected", RefreshToken: "rt-new", ExpiresAt: now.Add(time.Hour)})
	close(e.hold)
	if err := <-done; err != nil || tok != "at-reconnected" {
		t.Fatalf("Inject = %q, %v; want the newer credential", tok, err)
	}
	if c := getCred(t, s); c.Stale || c.RefreshToken != "rt-new" {
		t.Fatalf("the newer credential was touched: %+v", c)
	}
}

// TestMarkStale: an upstream refusal marks the credential stale, not
// deleted. With a refresh token the next use refreshes (the policy still
// sees it connected); if the reissued token is refused too, the refresh
// token is dropped and the next call elicits. A refusal of a token that has
// been replaced since (an older version) changes nothing.
func TestMarkStale(t *testing.T) {
	now := time.Unix(1800000000, 0)
	e := startTokenEndpoint(t)
	s, _ := oauthService(t, &now, e.srv.URL)
	ctx := context.Background()
	putCred(t, s, credstore.Credential{AccessToken: "at-0", RefreshToken: "rt-0", ExpiresAt: now.Add(time.Hour)})
	v0 := s.Version(getCred(t, s))
	if err := s.MarkStale(ctx, mailKey.Issuer, mailKey.Subject, "mail", v0); err != nil {
		t.Fatal(err)
	}
	if c := getCred(t, s); !c.Stale || c.RefreshToken != "rt-0" {
		t.Fatalf("after the first refusal: %+v; want stale with its refresh token", c)
	}
	if st, _ := s.Status(ctx, mailKey.Issuer, mailKey.Subject); !st["mail"].Connected {
		t.Fatal("a stale credential with a refresh token should still count as connected (it is refreshed on use)")
	}
	if tok, err := injectMail(s, ctx); err != nil || tok != "at-1" || e.grants.Load() != 1 {
		t.Fatalf("Inject after a refusal = %q, %v (grants %d); want a refresh to at-1", tok, err, e.grants.Load())
	}
	c := getCred(t, s)
	if c.Stale || !c.Reissued {
		t.Fatalf("after the refresh: %+v; want current and reissued", c)
	}
	if err := s.MarkStale(ctx, mailKey.Issuer, mailKey.Subject, "mail", v0); err != nil || getCred(t, s).Stale {
		t.Fatalf("a late refusal of the replaced token marked the new one stale (%v)", err)
	}
	if err := s.MarkStale(ctx, mailKey.Issuer, mailKey.Subject, "mail", s.Version(c)); err != nil {
		t.Fatal(err)
	}
	if c := getCred(t, s); !c.Stale || c.RefreshToken != "" {
		t.Fatalf("after the reissued token was refused: %+v; want stale without a refresh token", c)
	}
	var nc *ErrNotConnected
	if _, err := injectMail(s, ctx); !errors.As(err, &nc) || e.grants.Load() != 1 {
		t.Fatalf("Inject = %v (grants %d); want *ErrNotConnected, no new grant", err, e.grants.Load())
	}
}

// TestMarkStaleWithoutRefresh: an API key (no refresh token) refused
// upstream elicits on the next call; unknown providers and missing
// credentials are left alone.
func TestMarkStaleWithoutRefresh(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := testService(t, &now)
	ctx := context.Background()
	for _, p := range []string{"mail", "chat"} { // nothing stored; chat is not configured
		if err := s.MarkStale(ctx, "https://idp", "alice", p, ""); err != nil {
			t.Fatalf("MarkStale(%s) without a credential: %v", p, err)
		}
	}
	putCred(t, s, credstore.Credential{AccessToken: "mk_12345678"})
	if err := s.MarkStale(ctx, "https://idp", "alice", "mail", ""); err != nil {
		t.Fatal(err)
	}
	var nc *ErrNotConnected
	if _, err := injectMail(s, ctx); !errors.As(err, &nc) {
		t.Fatalf("Inject after the key was refused = %v; want *ErrNotConnected", err)
	}
	if st, _ := s.Status(ctx, "https://idp", "alice"); st["mail"].Connected {
		t.Fatal("a refused API key is still reported connected")
	}
}

// TestVersion: the version identifies the token without containing it, and
// differs between tokens and between store keys.
func TestVersion(t *testing.T) {
	now := time.Unix(1800000000, 0)
	a, b := testService(t, &now), testService(t, &now)
	c := credstore.Credential{AccessToken: "mk_12345678"}
	va := a.Version(c)
	if va != a.Version(c) || va == a.Version(credstore.Credential{AccessToken: "mk_12345679"}) || va == b.Version(c) || len(va) != 16 {
		t.Fatalf("Version = %q; want stable per token and store key, 16 characters", va)
	}
}
