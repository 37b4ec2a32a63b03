package upstream

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcp-authz/mcp-authz/pkg/identity"
)

// Limits of a minted token.
const (
	// MaxTTL is the longest lifetime a minted token may have.
	MaxTTL = 5 * time.Minute
	// reuseDivisor: a cached token is handed out for 1/reuseDivisor of its
	// lifetime, so an upstream always receives one with most of its
	// lifetime left, and a burst of identical calls signs once.
	reuseDivisor = 4
)

// TokenType is the JWT typ header of minted tokens (RFC 9068).
const TokenType = "at+jwt"

// reservedClaims are set by the minter; a policy's extra claims may not
// replace them.
var reservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true,
	"act": true, "client_id": true, "scope": true, "cnf": true, "may_act": true,
}

// ReservedClaim reports whether a policy's extra claims may not set name.
func ReservedClaim(name string) bool { return reservedClaims[name] }

// MintRequest is what one minted token says.
type MintRequest struct {
	// Subject is the verified user (the inbound token's sub).
	Subject string
	// ClientID is the OAuth client acting for Subject ("" when none).
	ClientID string
	// Actor is the current actor: the calling workload's SPIFFE ID or the
	// client id ("" when neither is known).
	Actor string
	// Chain is the inbound token's act chain, outermost first: the prior actors.
	Chain []identity.Actor
	// Audience is the upstream's resource identifier.
	Audience string
	// Scope is the one call's scope.
	Scope string
	// TTL is the lifetime (0: the minter's default; at most MaxTTL).
	TTL time.Duration
	// Claims are extra claims from the policy (never a reserved one).
	Claims map[string]any
}

// MinterConfig configures a Minter.
type MinterConfig struct {
	// Issuer is the iss of minted tokens.
	Issuer string
	// TTL is the default lifetime.
	TTL time.Duration
	// CacheSize bounds the minted-token cache (entries).
	CacheSize int
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
}

// Minter signs per-call tokens with the current key set and caches them
// per (sub, client, actor chain, audience, scope, claims, signing key) for
// a quarter of their lifetime.
type Minter struct {
	cfg   MinterConfig
	keys  *Keys
	cache *lru.Cache[[32]byte, minted]
}

type minted struct {
	token    string
	reuseEnd time.Time
}

// NewMinter returns a Minter signing with keys.
func NewMinter(cfg MinterConfig, keys *Keys) (*Minter, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.TTL <= 0 || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("upstream: ttl %s: want (0, %s]", cfg.TTL, MaxTTL)
	}
	if cfg.Issuer == "" {
		return nil, errors.New("upstream: minting needs an issuer")
	}
	c, err := lru.New[[32]byte, minted](max(cfg.CacheSize, 1))
	if err != nil {
		return nil, fmt.Errorf("upstream: cache: %w", err)
	}
	return &Minter{cfg: cfg, keys: keys, cache: c}, nil
}

// Keys returns the key holder the minter signs with.
func (m *Minter) Keys() *Keys { return m.keys }

// Mint returns a signed token for r, from the cache when an identical one
// was signed recently with the current signing key.
func (m *Minter) Mint(r MintRequest) (string, error) {
	ttl := r.TTL
	if ttl <= 0 {
		ttl = m.cfg.TTL
	}
	if ttl > MaxTTL {
		return "", fmt.Errorf("upstream: ttl %s is over %s", ttl, MaxTTL)
	}
	if r.Subject == "" || r.Audience == "" {
		return "", errors.New("upstream: a minted token needs a subject and an audience")
	}
	ks := m.keys.Current()
	key, err := cacheKey(r, ttl, ks.kid)
	if err != nil {
		return "", err
	}
	now := m.cfg.Clock()
	if e, ok := m.cache.Get(key); ok && now.Before(e.reuseEnd) {
		return e.token, nil
	}
	tok, err := m.sign(ks, r, ttl, now)
	if err != nil {
		return "", err
	}
	m.cache.Add(key, minted{token: tok, reuseEnd: now.Add(ttl / reuseDivisor)})
	return tok, nil
}

// sign builds the claims and signs them with the set's first key.
func (m *Minter) sign(ks *KeySet, r MintRequest, ttl time.Duration, now time.Time) (string, error) {
	claims := make(map[string]any, len(r.Claims)+10)
	for k, v := range r.Claims {
		if reservedClaims[k] {
			return "", fmt.Errorf("upstream: claim %q is set by the minter", k)
		}
		claims[k] = v
	}
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	claims["iss"], claims["sub"], claims["aud"] = m.cfg.Issuer, r.Subject, r.Audience
	claims["scope"], claims["jti"] = r.Scope, jti
	claims["iat"], claims["exp"] = now.Unix(), now.Add(ttl).Unix()
	if r.ClientID != "" {
		claims["client_id"] = r.ClientID
	}
	if act := actClaim(r.Actor, r.Chain); act != nil {
		claims["act"] = act
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("upstream: claims: %w", err)
	}
	h := jws.NewHeaders()
	if err := errors.Join(h.Set(jws.TypeKey, TokenType), h.Set(jws.KeyIDKey, ks.kid)); err != nil {
		return "", fmt.Errorf("upstream: header: %w", err)
	}
	out, err := jws.Sign(payload, jws.WithKey(ks.alg, ks.signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("upstream: sign: %w", err)
	}
	return string(out), nil
}

// actClaim nests the delegation chain per RFC 8693 section 4.1: the current
// actor outermost, each prior actor one level deeper. nil when there is no
// actor at all.
func actClaim(actor string, chain []identity.Actor) map[string]any {
	var inner map[string]any
	for i := len(chain) - 1; i >= 0; i-- {
		a := map[string]any{"sub": chain[i].Subject}
		if chain[i].Issuer != "" {
			a["iss"] = chain[i].Issuer
		}
		if chain[i].ClientID != "" {
			a["client_id"] = chain[i].ClientID
		}
		if inner != nil {
			a["act"] = inner
		}
		inner = a
	}
	if actor == "" {
		return inner
	}
	out := map[string]any{"sub": actor}
	if inner != nil {
		out["act"] = inner
	}
	return out
}

// cacheKey hashes everything a token says except its times and jti.
func cacheKey(r MintRequest, ttl time.Duration, kid string) ([32]byte, error) {
	b, err := json.Marshal(struct {
		Sub, Client, Actor, Aud, Scope, Kid string
		Chain                               []identity.Actor
		TTL                                 time.Duration
		Claims                              map[string]any
	}{r.Subject, r.ClientID, r.Actor, r.Audience, r.Scope, kid, r.Chain, ttl, r.Claims})
	if err != nil {
		return [32]byte{}, fmt.Errorf("upstream: claims: %w", err)
	}
	return sha256.Sum256(b), nil
}

func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("upstream: jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
