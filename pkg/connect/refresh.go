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

// refresh exchanges the refresh token of an expired credential and stores
// the new one; a failure marks the credential stale so the next call elicits.
func (s *Service) refresh(ctx context.Context, p *provider, k credstore.Key) (string, error) {
	v, err, _ := refreshes.Do(k.Issuer+"\x00"+k.Subject+"\x00"+k.Provider, func() (any, error) {
		c, err := s.store.Get(ctx, k)
		if err != nil {
			return "", err
		}
		if !c.ExpiresAt.IsZero() && s.clock().Before(c.ExpiresAt) {
			return c.AccessToken, nil // another replica refreshed it
		}
		oc, err := s.oauthConfig(ctx, p)
		if err != nil {
			return "", err
		}
		tok, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: c.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
		if err != nil {
			_ = s.store.MarkStale(ctx, k)
			return "", &ErrNotConnected{Provider: k.Provider}
		}
		c = credentialOf(tok, c.Scopes, s.clock())
		if err := s.store.Put(ctx, k, c); err != nil {
			return "", fmt.Errorf("connect: store refreshed credential: %w", err)
		}
		return c.AccessToken, nil
	})
	if err != nil {
		var nc *ErrNotConnected
		if errors.As(err, &nc) {
			return "", err
		}
		return "", fmt.Errorf("connect: refresh %s: %w", k.Provider, err)
	}
	return v.(string), nil
}

// credentialOf turns an OAuth token response into a stored credential.
func credentialOf(tok *oauth2.Token, scopes []string, now time.Time) credstore.Credential {
	return credstore.Credential{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType,
		Scopes: scopes, ExpiresAt: tok.Expiry, CreatedAt: now.UTC()}
}
