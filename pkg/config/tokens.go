package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Upstream token modes: what an allowed request carries to the upstream.
const (
	// UpstreamModeNone passes the caller's own token through. The MCP
	// authorization spec forbids it; it stays the default only until
	// minting is configured, and the service warns at start for every hop.
	UpstreamModeNone = "none"
	// UpstreamModeMint sends a token this service signs for the one call.
	UpstreamModeMint = "mint"
	// UpstreamModeExchange sends a token obtained from an RFC 8693 STS.
	UpstreamModeExchange = "exchange"
)

// Defaults and bounds of the per-hop tokens.
const (
	DefaultMintAlgorithm   = "ES256"
	DefaultMintTTL         = 60 * time.Second
	MaxMintTTL             = 5 * time.Minute
	DefaultMintCacheSize   = 10000
	DefaultKeyReload       = 30 * time.Second
	DefaultExchangeTimeout = 5 * time.Second
	MaxExchangeTimeout     = 30 * time.Second
)

// TokenMinting configures the tokens this service signs for upstreams.
type TokenMinting struct {
	// Issuer is the iss of minted tokens: this service's identifier.
	Issuer string `json:"issuer"`
	// SigningKeyFiles are private keys (PEM: PKCS #8, or SEC 1 for EC; or a
	// private JWK): the
	// first signs, all are published in the JWKS. Rotate by adding the new
	// key second, waiting for upstream JWKS caches, then moving it first.
	SigningKeyFiles []string `json:"signing_key_files"`
	// Algorithm is ES256 (P-256 keys) or EdDSA (Ed25519 keys).
	Algorithm string `json:"algorithm"`
	// TTL is the lifetime of a minted token (at most 5m).
	TTL Duration `json:"ttl"`
	// JWKSURI is the JWKS URL named in the authorization server metadata;
	// default: the issuer's origin + /.well-known/jwks.json.
	JWKSURI string `json:"jwks_uri"`
	// CacheSize bounds the minted-token cache (entries).
	CacheSize int `json:"cache_size"`
	// KeyReload is how often the key files are re-read (rotation without a restart).
	KeyReload Duration `json:"key_reload"`
}

// Enabled reports whether minting is configured.
func (m TokenMinting) Enabled() bool { return m.Issuer != "" || len(m.SigningKeyFiles) > 0 }

// UpstreamToken says what one hop's upstream receives.
type UpstreamToken struct {
	// Mode is mint, exchange or none (the caller's token passes through).
	Mode string `json:"mode"`
	// Audience is the aud of the upstream's token; default: the hop's resource.
	Audience string `json:"audience"`
	// Scope replaces the per-call scope (mcp:tools/call:<tool id>, …).
	Scope string `json:"scope"`
}

// TokenExchange is an RFC 8693 security token service.
type TokenExchange struct {
	// Endpoint is the STS token endpoint (https).
	Endpoint string `json:"endpoint"`
	// ClientID authenticates this service to the STS (HTTP Basic).
	ClientID string `json:"client_id"`
	// ClientSecretFile holds the client secret.
	ClientSecretFile string `json:"client_secret_file"`
	// CAFile is a PEM bundle trusted for the endpoint.
	CAFile string `json:"ca_file"`
	// Timeout bounds one exchange.
	Timeout Duration `json:"timeout"`
	// ActorTokenFile holds an optional actor_token (a JWT naming this service).
	ActorTokenFile string `json:"actor_token_file"`
}

// HopUpstream returns the effective upstream_token of resources[i]: the
// hop's own entry, its mode inherited from the top level when unset.
func (c *Config) HopUpstream(i int) UpstreamToken {
	u := c.UpstreamToken
	if h := c.Resources[i].UpstreamToken; h != nil {
		u = UpstreamToken{Mode: h.Mode, Audience: h.Audience, Scope: h.Scope}
		if u.Mode == "" {
			u.Mode = c.UpstreamToken.Mode
		}
	}
	if u.Audience == "" {
		u.Audience = c.Resources[i].Resource
	}
	return u
}

func (c *Config) applyTokenDefaults() {
	// Passthrough is the default only until minting is configured.
	if c.TokenMinting.Enabled() {
		setStr(&c.UpstreamToken.Mode, UpstreamModeMint)
	}
	setStr(&c.UpstreamToken.Mode, UpstreamModeNone)
	setStr(&c.TokenMinting.Algorithm, DefaultMintAlgorithm)
	setDur(&c.TokenMinting.TTL, DefaultMintTTL)
	setInt(&c.TokenMinting.CacheSize, DefaultMintCacheSize)
	setDur(&c.TokenMinting.KeyReload, DefaultKeyReload)
	if c.TokenMinting.JWKSURI == "" && c.TokenMinting.Issuer != "" {
		if o := originOf(c.TokenMinting.Issuer); o != "" {
			c.TokenMinting.JWKSURI = o + "/.well-known/jwks.json"
		}
	}
	for _, te := range c.exchanges() {
		setDur(&te.Timeout, DefaultExchangeTimeout)
	}
}

// exchanges lists every configured token_exchange block.
func (c *Config) exchanges() []*TokenExchange {
	out := []*TokenExchange{}
	if c.TokenExchange != nil {
		out = append(out, c.TokenExchange)
	}
	for i := range c.Issuers {
		if te := c.Issuers[i].TokenExchange; te != nil {
			out = append(out, te)
		}
	}
	for i := range c.Resources {
		if te := c.Resources[i].TokenExchange; te != nil {
			out = append(out, te)
		}
	}
	return out
}

func (c *Config) validateTokens(add addFunc) {
	m := c.TokenMinting
	if m.Enabled() {
		c.validateMinting(add)
	}
	anyExchange := c.TokenExchange != nil
	for _, is := range c.Issuers {
		anyExchange = anyExchange || is.TokenExchange != nil
	}
	for i := range c.Resources {
		key := fmt.Sprintf("resources[%d].upstream_token", i)
		if c.Resources[i].UpstreamToken == nil {
			key = "upstream_token"
		}
		u := c.HopUpstream(i)
		switch u.Mode {
		case UpstreamModeNone:
		case UpstreamModeMint:
			if !m.Enabled() {
				add(key+".mode", "mint needs token_minting (issuer and signing_key_files)")
			}
		case UpstreamModeExchange:
			if !anyExchange && c.Resources[i].TokenExchange == nil {
				add(key+".mode", "exchange needs a token_exchange (top level, on an issuer or on the hop)")
			}
		default:
			add(key+".mode", "must be mint, exchange or none, got %q", u.Mode)
		}
		if !absoluteURI(u.Audience) {
			add(key+".audience", "want an absolute URI, got %q", u.Audience)
		}
		if u.Scope != "" && !ValidScope(u.Scope) {
			add(key+".scope", "want space-separated RFC 6749 scope tokens, got %q", u.Scope)
		}
	}
	c.validateExchanges(add)
}

func (c *Config) validateMinting(add addFunc) {
	m := c.TokenMinting
	if !absoluteURI(m.Issuer) {
		add("token_minting.issuer", "want an absolute URI (the iss of minted tokens), got %q", m.Issuer)
	}
	if len(m.SigningKeyFiles) == 0 {
		add("token_minting.signing_key_files", "at least one key file is required")
	}
	if m.Algorithm != "ES256" && m.Algorithm != "EdDSA" {
		add("token_minting.algorithm", "must be ES256 or EdDSA, got %q", m.Algorithm)
	}
	if d := m.TTL.D(); d < time.Second || d > MaxMintTTL {
		add("token_minting.ttl", "must be in [1s, %s], got %s", MaxMintTTL, d)
	}
	if m.CacheSize < 0 {
		add("token_minting.cache_size", "must not be negative, got %d", m.CacheSize)
	}
	if m.KeyReload.D() < time.Second {
		add("token_minting.key_reload", "at least 1s, got %s", m.KeyReload.D())
	}
	if !absoluteURI(m.JWKSURI) {
		add("token_minting.jwks_uri", "want an absolute URI, got %q", m.JWKSURI)
	}
}

func (c *Config) validateExchanges(add addFunc) {
	check := func(key string, te *TokenExchange) {
		if te == nil {
			return
		}
		if u, err := url.Parse(te.Endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
			add(key+".endpoint", "want an https URL, got %q", te.Endpoint)
		}
		if te.ClientID == "" {
			add(key+".client_id", "required")
		}
		if d := te.Timeout.D(); d <= 0 || d > MaxExchangeTimeout {
			add(key+".timeout", "must be in (0, %s], got %s", MaxExchangeTimeout, d)
		}
	}
	check("token_exchange", c.TokenExchange)
	for i, is := range c.Issuers {
		check(fmt.Sprintf("issuers[%d].token_exchange", i), is.TokenExchange)
	}
	for i, h := range c.Resources {
		check(fmt.Sprintf("resources[%d].token_exchange", i), h.TokenExchange)
	}
}

// ValidScope reports whether s is one or more RFC 6749 scope-tokens
// separated by single spaces.
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
	}
	return true
}

func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != "" && u.Fragment == ""
}
