// Package oauthtest runs in-process OAuth 2.0 authorization servers for
// tests of the connect flow: an OpenID Connect issuer (discovery and keys
// from go-oidc's oidctest, ID tokens signed with jwx through devjwt) and a
// third-party provider. Both check what a real server checks (client, exact
// redirect URI, PKCE S256 verifier, single-use codes) so a test that follows
// the flow as a browser fails when mcp-authz gets any of it wrong.
package oauthtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/mcp-authz/mcp-authz/internal/devjwt"
)

// Server is one in-process authorization server.
type Server struct {
	// URL is the server's origin (the issuer of an OIDC server).
	URL string
	// ClientID and ClientSecret are the one registered client.
	ClientID, ClientSecret string
	// RedirectURI is the client's one registered redirect URI (exact match).
	RedirectURI string

	oidc *oidctest.Server // nil: a plain OAuth provider
	key  *rsa.PrivateKey
	kid  string

	mu     sync.Mutex
	user   string
	over   map[string]any
	codes  map[string]grant
	tokens []string
}

// grant is what an authorization code stands for.
type grant struct {
	redirect, challenge, nonce, sub, scope string
}

// Options configures a server; zero values get test defaults.
type Options struct {
	ClientID, ClientSecret, RedirectURI string
	// Key signs ID tokens (OIDC only) under KeyID.
	Key   *rsa.PrivateKey
	KeyID string
}

// StartIssuer starts an OpenID Connect issuer whose authorization endpoint
// logs in the current user (SetUser) without a form.
func StartIssuer(t testing.TB, o Options) *Server {
	t.Helper()
	s := newServer(o)
	s.oidc = &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: o.Key.Public(), KeyID: o.KeyID, Algorithm: oidc.RS256}}}
	s.start(t)
	s.oidc.SetIssuer(s.URL)
	return s
}

// StartProvider starts a third-party OAuth 2.0 server (endpoints /auth and
// /token) that issues opaque access and refresh tokens.
func StartProvider(t testing.TB, o Options) *Server {
	t.Helper()
	s := newServer(o)
	s.start(t)
	return s
}

func newServer(o Options) *Server {
	return &Server{ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURI: o.RedirectURI,
		key: o.Key, kid: o.KeyID, codes: map[string]grant{}}
}

func (s *Server) start(t testing.TB) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	if s.oidc != nil {
		mux.Handle("/", s.oidc)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
}

// SetUser sets who is logged in at the authorization endpoint.
func (s *Server) SetUser(sub string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = sub
}

// OverrideIDToken replaces claims of the ID tokens issued from now on (a
// wrong aud, nonce or iss), so tests can check that they are refused.
func (s *Server) OverrideIDToken(claims map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.over = claims
}

// SetRedirectURI changes the registered redirect URI.
func (s *Server) SetRedirectURI(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.RedirectURI = u
}

// Issued returns every access token issued so far.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

// AuthURL and TokenURL are the endpoints (for configs without discovery).
func (s *Server) AuthURL() string  { return s.URL + "/auth" }
func (s *Server) TokenURL() string { return s.URL + "/token" }

// authorize checks the request and redirects back with a code. A wrong
// client or redirect URI is shown as an error page, never redirected to
// (RFC 6749 section 4.1.2.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.Get("client_id") != s.ClientID || q.Get("redirect_uri") != s.RedirectURI {
		http.Error(w, "invalid client or redirect_uri mismatch", http.StatusBadRequest)
		return
	}
	fail := func(code string) {
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"error": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code" || q.Get("state") == "":
		fail("invalid_request")
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		fail("invalid_request")
		return
	case s.user == "":
		fail("access_denied")
		return
	}
	code := random()
	s.codes[code] = grant{redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"),
		sub: s.user, scope: q.Get("scope")}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

// token redeems a code once, checking client, redirect URI and verifier.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, "unsupported_grant_type")
		return
	}
	if !s.clientOK(r) {
		tokenError(w, "invalid_client")
		return
	}
	s.mu.Lock()
	g, ok := s.codes[r.PostForm.Get("code")]
	delete(s.codes, r.PostForm.Get("code"))
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || g.redirect != r.PostForm.Get("redirect_uri") ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		tokenError(w, "invalid_grant")
		return
	}
	s.issue(w, g)
}

func (s *Server) clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == s.ClientID && secret == s.ClientSecret
}

func (s *Server) issue(w http.ResponseWriter, g grant) {
	resp := map[string]any{"access_token": "at-" + random(), "token_type": "Bearer", "expires_in": 3600,
		"refresh_token": "rt-" + random()}
	if g.scope != "" {
		resp["scope"] = g.scope
	}
	if s.oidc != nil {
		idt, err := s.idToken(g)
		if err != nil {
			tokenError(w, "server_error")
			return
		}
		resp["id_token"] = idt
	}
	s.mu.Lock()
	s.tokens = append(s.tokens, resp["access_token"].(string))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// idToken signs the ID token of a grant, with the test's overrides.
func (s *Server) idToken(g grant) (string, error) {
	now := time.Now()
	claims := map[string]any{"iss": s.URL, "sub": g.sub, "aud": s.ClientID,
		"nonce": g.nonce, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	s.mu.Lock()
	for k, v := range s.over {
		claims[k] = v
	}
	s.mu.Unlock()
	return devjwt.SignRS256(s.key, s.kid, claims)
}

func tokenError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
