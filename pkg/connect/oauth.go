package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// endpoints caches discovered provider endpoints by issuer.
var endpoints sync.Map // issuer → oauth2.Endpoint

// maxMetadata bounds a discovery document.
const maxMetadata = 1 << 20

// oauthConfig is the provider's OAuth client configuration, endpoints from
// the config or discovered from its issuer (RFC 8414, then OIDC discovery).
func (s *Service) oauthConfig(ctx context.Context, p *provider) (*oauth2.Config, error) {
	ep := oauth2.Endpoint{AuthURL: p.cfg.AuthorizationEndpoint, TokenURL: p.cfg.TokenEndpoint}
	if p.cfg.Issuer != "" && (ep.AuthURL == "" || ep.TokenURL == "") {
		var err error
		if ep, err = discover(ctx, p.cfg.Issuer); err != nil {
			return nil, err
		}
	}
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if p.secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.secret, Endpoint: ep,
		RedirectURL: s.baseURL + pathProviderCB, Scopes: p.cfg.Scopes}, nil
}

// discover reads the issuer's authorization server metadata and checks
// that it names the same issuer (RFC 8414 section 3.3).
func discover(ctx context.Context, issuer string) (oauth2.Endpoint, error) {
	if v, ok := endpoints.Load(issuer); ok {
		return v.(oauth2.Endpoint), nil
	}
	base := strings.TrimRight(issuer, "/")
	var lastErr error
	for _, wk := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		ep, err := fetchMetadata(ctx, base+wk, issuer)
		if err == nil {
			endpoints.Store(issuer, ep)
			return ep, nil
		}
		lastErr = err
	}
	return oauth2.Endpoint{}, fmt.Errorf("connect: discover %s: %w", issuer, lastErr)
}

// clientOf is the HTTP client ctx carries under oauth2.HTTPClient (the
// connect pages' bounded client, as the token exchanges use it), else
// http.DefaultClient; the caller's context bounds the time either way.
func clientOf(ctx context.Context) *http.Client {
	if c, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && c != nil {
		return c
	}
	return http.DefaultClient
}

func fetchMetadata(ctx context.Context, url, issuer string) (oauth2.Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	resp, err := clientOf(ctx).Do(req)
	if err != nil {
		return oauth2.Endpoint{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return oauth2.Endpoint{}, fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	var m struct {
		Issuer string `json:"issuer"`
		Auth   string `json:"authorization_endpoint"`
		Token  string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadata)).Decode(&m); err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("%s: %w", url, err)
	}
	if m.Issuer != issuer || m.Auth == "" || m.Token == "" {
		return oauth2.Endpoint{}, fmt.Errorf("%s: metadata names issuer %q or lacks endpoints", url, m.Issuer)
	}
	return oauth2.Endpoint{AuthURL: m.Auth, TokenURL: m.Token}, nil
}
