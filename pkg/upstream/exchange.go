package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/mcp-authz/mcp-authz/pkg/tlsreload"
)

// RFC 8693 identifiers.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT       = "urn:ietf:params:oauth:token-type:jwt"
)

// Bounds of one exchange.
const (
	maxExchangeResponse = 64 << 10
	maxExchangedToken   = 16 << 10
	// DefaultExchangeMargin: an exchanged token is reused until this long
	// before its expiry, so the upstream never receives one about to lapse.
	DefaultExchangeMargin = 10 * time.Second
)

// ExchangeRequest is one RFC 8693 token exchange.
type ExchangeRequest struct {
	// SubjectToken is the caller's verified access token.
	SubjectToken string
	// Issuer, Subject and ClientID identify the caller (the cache key).
	Issuer, Subject, ClientID string
	// SubjectExpiry is the caller's token's exp: an exchanged token is never
	// reused past it.
	SubjectExpiry time.Time
	// Audience is the upstream's resource identifier (audience and resource).
	Audience string
	// Scope is the scope requested.
	Scope string
}

// ExchangeConfig configures an ExchangeClient.
type ExchangeConfig struct {
	// Endpoint is the STS token endpoint.
	Endpoint string
	// ClientID and ClientSecret authenticate this service (HTTP Basic,
	// RFC 6749 section 2.3.1); without a secret client_id goes in the form.
	ClientID, ClientSecret string
	// ActorToken, when set, is sent as actor_token (a JWT naming this service).
	ActorToken string
	// HTTPClient sends the requests (NewExchangeHTTPClient builds a bounded one).
	HTTPClient *http.Client
	// Timeout bounds one exchange, however many callers wait for it.
	Timeout time.Duration
	// CacheSize bounds the exchanged-token cache (entries).
	CacheSize int
	// Margin is subtracted from an exchanged token's expiry (0: DefaultExchangeMargin).
	Margin time.Duration
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
}

// ExchangeClient performs RFC 8693 token exchanges against one STS. It
// caches each result per (issuer, subject, client, audience, scope) until
// its expiry minus a margin (never past the caller's token's exp), and
// coalesces concurrent identical exchanges into one request.
type ExchangeClient struct {
	cfg   ExchangeConfig
	cache *lru.Cache[[32]byte, exchanged]
	sf    singleflight.Group
}

type exchanged struct {
	token string
	until time.Time
}

// NewExchangeClient returns a client for cfg.
func NewExchangeClient(cfg ExchangeConfig) (*ExchangeClient, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("upstream: token exchange endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.HTTPClient == nil || cfg.Timeout <= 0 {
		return nil, errors.New("upstream: token exchange needs a bounded HTTP client and a timeout")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Margin <= 0 {
		cfg.Margin = DefaultExchangeMargin
	}
	c, err := lru.New[[32]byte, exchanged](max(cfg.CacheSize, 1))
	if err != nil {
		return nil, fmt.Errorf("upstream: exchange cache: %w", err)
	}
	return &ExchangeClient{cfg: cfg, cache: c}, nil
}

// Exchange returns a token for r's audience and scope, from the cache
// when one is still fresh. A caller whose context ends stops waiting; the
// exchange it started still completes (bounded by Timeout) for the others.
func (c *ExchangeClient) Exchange(ctx context.Context, r ExchangeRequest) (string, error) {
	if r.SubjectToken == "" {
		return "", errors.New("token exchange: no subject token")
	}
	key := exchangeKey(r)
	if e, ok := c.cache.Get(key); ok && c.cfg.Clock().Before(e.until) {
		return e.token, nil
	}
	ch := c.sf.DoChan(hex.EncodeToString(key[:]), func() (any, error) {
		return c.exchangeAndCache(ctx, key, r)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("token exchange: %w", ctx.Err())
	}
}

func (c *ExchangeClient) exchangeAndCache(ctx context.Context, key [32]byte, r ExchangeRequest) (string, error) {
	// A caller that missed the cache just before the previous flight filled
	// it must not start a second exchange.
	if e, ok := c.cache.Get(key); ok && c.cfg.Clock().Before(e.until) {
		return e.token, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
	defer cancel()
	start := c.cfg.Clock()
	tok, lifetime, err := c.post(ctx, r)
	if err != nil {
		return "", err
	}
	until := start.Add(lifetime - c.cfg.Margin)
	if !r.SubjectExpiry.IsZero() && r.SubjectExpiry.Before(until) {
		until = r.SubjectExpiry
	}
	if lifetime > 0 && until.After(start) {
		c.cache.Add(key, exchanged{token: tok, until: until})
	}
	return tok, nil
}

// Close releases the HTTP client's idle connections.
func (c *ExchangeClient) Close() { c.cfg.HTTPClient.CloseIdleConnections() }

// exchangeKey hashes the cache key (issuer, subject, client, audience, scope).
func exchangeKey(r ExchangeRequest) [32]byte {
	h := sha256.New()
	for _, s := range []string{r.Issuer, r.Subject, r.ClientID, r.Audience, r.Scope} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// post sends the token exchange request and reads the token and its
// lifetime (0 when the STS names none: used once, not cached).
func (c *ExchangeClient) post(ctx context.Context, r ExchangeRequest) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Endpoint, strings.NewReader(c.form(r).Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("token exchange: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.cfg.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("token exchange: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxExchangeResponse+1))
	if err != nil {
		return "", 0, fmt.Errorf("token exchange: read response: %w", err)
	}
	if len(body) > maxExchangeResponse {
		return "", 0, fmt.Errorf("token exchange: response larger than %d bytes", maxExchangeResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("token exchange: status %d%s", resp.StatusCode, oauthError(body))
	}
	return parseExchangeResponse(body)
}

// form is the RFC 8693 section 2.1 request.
func (c *ExchangeClient) form(r ExchangeRequest) url.Values {
	f := url.Values{
		"grant_type":           {grantTokenExchange},
		"subject_token":        {r.SubjectToken},
		"subject_token_type":   {tokenTypeAccess},
		"requested_token_type": {tokenTypeAccess},
		"audience":             {r.Audience},
		"resource":             {r.Audience},
	}
	if r.Scope != "" {
		f.Set("scope", r.Scope)
	}
	if c.cfg.ActorToken != "" {
		f.Set("actor_token", c.cfg.ActorToken)
		f.Set("actor_token_type", tokenTypeJWT)
	}
	if c.cfg.ClientSecret == "" {
		f.Set("client_id", c.cfg.ClientID)
	}
	return f
}

// parseExchangeResponse checks the RFC 8693 section 2.2.1 response. The
// token goes into an HTTP header, so it must be a single visible-ASCII
// token68-like string.
func parseExchangeResponse(body []byte) (string, time.Duration, error) {
	var resp struct {
		AccessToken     string          `json:"access_token"`
		IssuedTokenType string          `json:"issued_token_type"`
		TokenType       string          `json:"token_type"`
		ExpiresIn       json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return "", 0, fmt.Errorf("token exchange: response is not a JSON object: %w", err)
	}
	switch {
	case resp.AccessToken == "" || len(resp.AccessToken) > maxExchangedToken || !headerSafe(resp.AccessToken):
		return "", 0, errors.New("token exchange: missing or malformed access_token")
	case !strings.EqualFold(resp.TokenType, "Bearer"):
		return "", 0, fmt.Errorf("token exchange: token_type %.32q, want Bearer", resp.TokenType)
	case resp.IssuedTokenType != "" && resp.IssuedTokenType != tokenTypeAccess && resp.IssuedTokenType != tokenTypeJWT:
		return "", 0, fmt.Errorf("token exchange: issued_token_type %.80q is not an access token", resp.IssuedTokenType)
	}
	var secs int64
	if len(resp.ExpiresIn) > 0 {
		if err := json.Unmarshal(resp.ExpiresIn, &secs); err != nil || secs < 0 {
			return "", 0, errors.New("token exchange: expires_in is not a non-negative integer")
		}
	}
	return resp.AccessToken, time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, nil
}

// headerSafe: visible ASCII without spaces, quotes or backslashes.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',' {
			return false
		}
	}
	return true
}

// oauthError names the RFC 6749 error code of an error response, bounded
// and stripped of anything that is not a plain code.
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" || len(e.Error) > 64 || !headerSafe(e.Error) {
		return ""
	}
	return ": " + e.Error
}

// NewExchangeHTTPClient returns the bounded client of one STS: a timeout
// on dialing, TLS, headers and the whole request, TLS 1.2+ trusting only
// caFile's CAs when set, and no redirects (a redirect would carry the
// user's token to another place).
func NewExchangeHTTPClient(caFile string, timeout time.Duration) (*http.Client, error) {
	tr, err := tlsreload.NewTransport(caFile, timeout, 16)
	if err != nil {
		return nil, fmt.Errorf("upstream: token exchange ca_file: %w", err)
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, nil
}
