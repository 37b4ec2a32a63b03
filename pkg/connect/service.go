package connect

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/credstore"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// Binding is who an elicitation was made for: the caller's identity, the
// client acting for them and the provider (with the scopes) to connect.
type Binding struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	ClientID string   `json:"cid"`
	Provider string   `json:"p"`
	Scopes   []string `json:"sc,omitempty"`
}

// Elicitation is a URL-mode elicitation ready for the wire.
type Elicitation struct {
	ID      string
	URL     string
	Message string
}

// provider is a configured provider with its secret loaded.
type provider struct {
	cfg     config.Provider
	secret  string
	pattern *regexp.Regexp
}

// Service is the connect feature: status, elicitations, request state,
// injection, and (http.go) the browser flow.
type Service struct {
	store     *credstore.Store
	providers map[string]*provider
	headers   []string
	baseURL   string
	cfg       config.Connect
	caps      *lru.Cache[string, bool]
	state     cipher.AEAD
	// versionKey keys the credential fingerprints of the ext_proc handoff.
	versionKey []byte
	clock      func() time.Time
}

// kindElicitation names pending elicitations in the ephemeral store.
const kindElicitation = "elicitation"

// New builds the service over an open store; clock nil means time.Now.
func New(cfg *config.Config, store *credstore.Store, clock func() time.Time) (*Service, error) {
	if clock == nil {
		clock = time.Now
	}
	caps, err := lru.New[string, bool](cfg.Connect.CapabilityCache)
	if err != nil {
		return nil, fmt.Errorf("connect: capability cache: %w", err)
	}
	st, err := store.Keys().Derive("request-state")
	if err != nil {
		return nil, err
	}
	s := &Service{store: store, providers: map[string]*provider{}, baseURL: strings.TrimRight(cfg.Connect.BaseURL, "/"),
		cfg: cfg.Connect, caps: caps, state: st, versionKey: store.Keys().DeriveKey("credential-version"), clock: clock}
	for _, p := range cfg.Providers {
		pv, err := loadProvider(p)
		if err != nil {
			return nil, err
		}
		s.providers[p.Name] = pv
		s.headers = append(s.headers, p.Header)
	}
	return s, nil
}

func loadProvider(p config.Provider) (*provider, error) {
	pv := &provider{cfg: p}
	if p.ClientSecretFile != "" {
		b, err := os.ReadFile(p.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("connect: provider %s client_secret_file: %w", p.Name, err)
		}
		pv.secret = strings.TrimSpace(string(b))
	}
	if p.Kind == "api_key" {
		re, err := regexp.Compile(`\A(?:` + p.Pattern + `)\z`)
		if err != nil {
			return nil, fmt.Errorf("connect: provider %s pattern: %w", p.Name, err)
		}
		pv.pattern = re
	}
	return pv, nil
}

// Headers are every provider's upstream header: client copies of them are
// removed from every allowed request that does not carry our value.
func (s *Service) Headers() []string { return s.headers }

// Status reports the caller's connections for every configured provider.
func (s *Service) Status(ctx context.Context, iss, sub string) (map[string]policy.Connection, error) {
	out := make(map[string]policy.Connection, len(s.providers))
	for name := range s.providers {
		c, err := s.store.Get(ctx, credstore.Key{Issuer: iss, Subject: sub, Provider: name})
		switch {
		case errors.Is(err, credstore.ErrNotFound):
			out[name] = policy.Connection{Scopes: []string{}}
			continue
		case err != nil:
			return nil, fmt.Errorf("connect: status of %s: %w", name, err)
		}
		pc := policy.Connection{Connected: s.usable(c), Scopes: c.Scopes}
		if pc.Scopes == nil {
			pc.Scopes = []string{}
		}
		if !c.ExpiresAt.IsZero() {
			pc.ExpiresAt = c.ExpiresAt.UTC().Format(time.RFC3339)
		}
		out[name] = pc
	}
	return out, nil
}

// usable: current, or refreshable (a refresh token is kept: an expired
// credential, or a stale one the upstream refused, is refreshed first).
func (s *Service) usable(c credstore.Credential) bool {
	if c.AccessToken == "" {
		return false
	}
	return s.current(c) || c.RefreshToken != ""
}

// current: not stale and not expired (a refreshable credential counts as
// expired refreshEarly before its expiry).
func (s *Service) current(c credstore.Credential) bool {
	if c.Stale || c.AccessToken == "" {
		return false
	}
	if c.ExpiresAt.IsZero() {
		return true
	}
	now := s.clock()
	if c.RefreshToken != "" {
		now = now.Add(refreshEarly)
	}
	return now.Before(c.ExpiresAt)
}

// Elicit records a single-use elicitation bound to b and returns it.
func (s *Service) Elicit(ctx context.Context, b Binding) (Elicitation, error) {
	p, ok := s.providers[b.Provider]
	if !ok {
		return Elicitation{}, fmt.Errorf("connect: provider %q is not configured", b.Provider)
	}
	id, err := randomID()
	if err != nil {
		return Elicitation{}, err
	}
	ttl := s.cfg.ElicitationTTL.D()
	pe := pendingElicitation{Binding: b, Exp: s.clock().Add(ttl).Unix()}
	if err := s.store.PutTemp(ctx, kindElicitation, id, pe, ttl); err != nil {
		return Elicitation{}, fmt.Errorf("connect: record elicitation: %w", err)
	}
	return Elicitation{ID: id, URL: s.baseURL + "/connect/e/" + id,
		Message: "Connect your " + p.cfg.Name + " account to continue: open the link, sign in, and authorize access."}, nil
}

// ErrNotConnected is returned by Inject for a provider without a usable
// credential: the call elicits. Cause, when set, is why a refresh failed
// (reachable with errors.Unwrap, kept out of Error: a provider's error body
// is no text for a log line).
type ErrNotConnected struct {
	Provider string
	Cause    error
}

func (e *ErrNotConnected) Error() string {
	if e.Cause != nil {
		return "connect: not connected to " + e.Provider + " (refresh failed)"
	}
	return "connect: not connected to " + e.Provider
}

// Unwrap returns the refresh failure, if any.
func (e *ErrNotConnected) Unwrap() error { return e.Cause }

// Injection is what an allowed call carries upstream for its connections.
type Injection struct {
	// Headers maps each provider's header to its access token (a secret:
	// it goes upstream and nowhere else).
	Headers map[string]string
	// Versions names, by provider, the stored credential each token came
	// from (Version; not a secret). It travels to the response side in the
	// ext_proc handoff, so a refusal of an older token never marks a newer
	// credential stale.
	Versions map[string]string
}

// Inject returns the upstream headers carrying the caller's credentials for
// providers. A provider without a usable credential is an *ErrNotConnected.
func (s *Service) Inject(ctx context.Context, iss, sub string, providers []string) (Injection, error) {
	out := Injection{Headers: make(map[string]string, len(providers)), Versions: make(map[string]string, len(providers))}
	for _, name := range providers {
		p, ok := s.providers[name]
		if !ok {
			return Injection{}, fmt.Errorf("connect: decision names unconfigured provider %q", name)
		}
		c, err := s.token(ctx, p, credstore.Key{Issuer: iss, Subject: sub, Provider: name})
		if err != nil {
			return Injection{}, err
		}
		out.Headers[p.cfg.Header] = c.AccessToken
		out.Versions[name] = s.Version(c)
	}
	return out, nil
}

// Version fingerprints a credential's access token: HMAC-SHA256 under a key
// derived from the store key, truncated, so it identifies the token without
// revealing anything about it (not even to a brute force of a short API key).
func (s *Service) Version(c credstore.Credential) string {
	m := hmac.New(sha256.New, s.versionKey)
	m.Write([]byte(c.AccessToken))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// token returns a usable credential, refreshing an expired or stale one.
func (s *Service) token(ctx context.Context, p *provider, k credstore.Key) (credstore.Credential, error) {
	c, err := s.store.Get(ctx, k)
	if errors.Is(err, credstore.ErrNotFound) {
		return c, &ErrNotConnected{Provider: k.Provider}
	}
	if err != nil {
		return c, fmt.Errorf("connect: credential of %s: %w", k.Provider, err)
	}
	if !s.usable(c) {
		return c, &ErrNotConnected{Provider: k.Provider}
	}
	if s.current(c) {
		return c, nil
	}
	return s.refresh(ctx, p, k)
}

// MarkStale records that the upstream refused the caller's credential for
// provider (ext_proc saw the refusal on a request that carried it). version
// is the injected credential's Version: a credential replaced since (the
// connect flow, a refresh) is left alone; "" marks whatever is stored. Stale
// is not deleted: a credential with a refresh token is refreshed on its next
// use; without one, or when the token a refresh of a stale credential gave
// is refused too, the next call elicits. A missing credential is left alone.
func (s *Service) MarkStale(ctx context.Context, iss, sub, provider, version string) error {
	if _, ok := s.providers[provider]; !ok {
		return nil
	}
	k := credstore.Key{Issuer: iss, Subject: sub, Provider: provider}
	c, err := s.store.Get(ctx, k)
	if errors.Is(err, credstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("connect: mark %s stale: %w", provider, err)
	}
	if c.Stale || version != "" && version != s.Version(c) {
		return nil // already marked, or no longer the refused token
	}
	c.Stale = true
	if c.Reissued {
		c.RefreshToken = ""
	}
	if err := s.store.Put(ctx, k, c); err != nil {
		return fmt.Errorf("connect: mark %s stale: %w", provider, err)
	}
	return nil
}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("connect: random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// capKey names a client of a user for the 2025-11-25 capability cache.
func capKey(iss, sub, cid string) string { return iss + "\x00" + sub + "\x00" + cid }

// RecordCapabilities remembers whether a 2025-11-25 client declared URL-mode
// elicitation in its initialize request.
func (s *Service) RecordCapabilities(iss, sub, cid string, url bool) {
	s.caps.Add(capKey(iss, sub, cid), url)
}

// URLCapable reports whether that client declared URL-mode elicitation.
func (s *Service) URLCapable(iss, sub, cid string) bool {
	v, ok := s.caps.Get(capKey(iss, sub, cid))
	return ok && v
}

// Store returns the credential store (the connect flow writes it; operators
// and tests read it).
func (s *Service) Store() *credstore.Store { return s.store }
