package connect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// refreshes coalesces concurrent refreshes of one credential (one refresh
// token must not be spent twice: providers rotate them).
var refreshes singleflight.Group

// refreshTimeout bounds one refresh (discovery and the token request). The
// refresh runs detached from the caller that started it: the callers that
// joined it must not fail, and the credential must not be marked stale,
// because the first caller went away.
const refreshTimeout = 10 * time.Second

// refreshEarly refreshes a refreshable credential this long before it
// expires, so the token is still valid when the upstream uses it.
const refreshEarly = 10 * time.Second

// refresh exchanges the refresh token of an expired or stale credential and
// stores the new one; a failure marks the credential stale and drops its
// refresh token, so the call (and every later one) elicits.
func (s *Service) refresh(ctx context.Context, p *provider, k credstore.Key) (credstore.Credential, error) {
	v, err, _ := refreshes.Do(k.Issuer+"\x00"+k.Subject+"\x00"+k.Provider, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		return s.refreshOnce(ctx, p, k)
	})
	if err != nil {
		var nc *ErrNotConnected
		if errors.As(err, &nc) {
			return credstore.Credential{}, err
		}
		return credstore.Credential{}, fmt.Errorf("connect: refresh %s: %w", k.Provider, err)
	}
	return v.(credstore.Credential), nil
}

// refreshOnce is one flight: it reads the credential again (a caller or a
// replica may have refreshed it meanwhile), spends the refresh token once
// and stores the answer, keeping the old refresh token when the provider
// does not rotate it.
func (s *Service) refreshOnce(ctx context.Context, p *provider, k credstore.Key) (credstore.Credential, error) {
	c, err := s.store.Get(ctx, k)
	if errors.Is(err, credstore.ErrNotFound) {
		return credstore.Credential{}, &ErrNotConnected{Provider: k.Provider} // revoked meanwhile
	}
	if err != nil {
		return credstore.Credential{}, err
	}
	if s.current(c) {
		return c, nil
	}
	if c.RefreshToken == "" {
		return credstore.Credential{}, &ErrNotConnected{Provider: k.Provider}
	}
	tok, err := s.exchangeRefresh(ctx, p, c.RefreshToken)
	if err != nil {
		return s.refreshFailed(ctx, k, c, err)
	}
	n := credentialOf(tok, grantedScopes(tok, c.Scopes), s.clock())
	n.Reissued = c.Stale // refreshed because the upstream refused the last one
	if err := s.store.Put(ctx, k, n); err != nil {
		return credstore.Credential{}, fmt.Errorf("connect: store refreshed credential: %w", err)
	}
	return n, nil
}

// exchangeRefresh sends one refresh_token grant to the provider.
func (s *Service) exchangeRefresh(ctx context.Context, p *provider, refreshToken string) (*oauth2.Token, error) {
	oc, err := s.oauthConfig(ctx, p)
	if err != nil {
		return nil, err
	}
	// An expired token makes the source go straight to the refresh grant.
	return oc.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}).Token()
}

// refreshFailed marks the credential stale without its refresh token (the
// provider refused it, or could not be reached: either way the next call
// elicits), unless the stored credential changed meanwhile: a new one
// stored by the connect flow or a refresh on another replica is used, not
// overwritten.
func (s *Service) refreshFailed(ctx context.Context, k credstore.Key, tried credstore.Credential, cause error) (credstore.Credential, error) {
	nc := &ErrNotConnected{Provider: k.Provider, Cause: cause}
	c, err := s.store.Get(ctx, k)
	if err != nil {
		return credstore.Credential{}, nc
	}
	if c.RefreshToken != tried.RefreshToken || c.AccessToken != tried.AccessToken {
		if s.current(c) {
			return c, nil
		}
		return credstore.Credential{}, nc
	}
	c.Stale, c.RefreshToken = true, ""
	if err := s.store.Put(ctx, k, c); err != nil {
		return credstore.Credential{}, fmt.Errorf("connect: mark %s stale after a failed refresh: %w", k.Provider, err)
	}
	return credstore.Credential{}, nc
}

// credentialOf turns an OAuth token response into a stored credential. The
// expiry is counted from expires_in on the service's clock.
func credentialOf(tok *oauth2.Token, scopes []string, now time.Time) credstore.Credential {
	exp := tok.Expiry
	if tok.ExpiresIn > 0 {
		exp = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return credstore.Credential{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType,
		Scopes: scopes, ExpiresAt: exp, CreatedAt: now.UTC()}
}
