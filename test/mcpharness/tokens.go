package mcpharness

import (
	"crypto/rsa"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/internal/devjwt"
)

// Minter signs test access tokens with a test-only RS256 key.
type Minter struct {
	Key      *rsa.PrivateKey
	KeyID    string
	Issuer   string
	Audience string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewMinter reads the key at keyFile (PEM); the token claims default to
// issuer and audience.
func NewMinter(t testing.TB, keyFile, keyID, issuer, audience string) *Minter {
	t.Helper()
	key, err := devjwt.ReadRSAKey(keyFile)
	if err != nil {
		t.Fatalf("mcpharness: test key: %v", err)
	}
	return &Minter{Key: key, KeyID: keyID, Issuer: issuer, Audience: audience}
}

// Mint signs a token for sub with roles, valid for an hour, with the
// scopes mcp:tools mcp:resources mcp:prompts; over replaces claims (a nil
// value deletes one).
func (m *Minter) Mint(t testing.TB, sub string, roles []string, over map[string]any) string {
	t.Helper()
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	claims := map[string]any{
		"iss": m.Issuer, "sub": sub, "aud": m.Audience, "roles": roles,
		"scope": "mcp:tools mcp:resources mcp:prompts", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	tok, err := devjwt.SignRS256(m.Key, m.KeyID, claims)
	if err != nil {
		t.Fatalf("mcpharness: sign: %v", err)
	}
	return tok
}
