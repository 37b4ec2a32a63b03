package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Connect flow defaults.
const (
	DefaultElicitationTTL  = 10 * time.Minute
	DefaultRequestStateTTL = 5 * time.Minute
	DefaultCapabilityCache = 10000
	maxConnectTTL          = time.Hour
)

// Provider is a third-party service users connect to (a mail, chat or CRM
// API): its OAuth 2.0 authorization server, or kind api_key for a key the user
// types into the connect page. Its tokens reach the upstream only in Header.
type Provider struct {
	// Name is the provider's id in registry connections and decisions.
	Name string `json:"name"`
	// Kind is oauth2 or api_key.
	Kind string `json:"kind"`
	// Issuer is the provider's OAuth issuer, its endpoints found through RFC 8414
	// / OIDC discovery; or set AuthorizationEndpoint and TokenEndpoint.
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	// ClientID and ClientSecretFile are this service's client at the provider.
	ClientID         string `json:"client_id"`
	ClientSecretFile string `json:"client_secret_file"`
	// Scopes are requested when the registry does not name any.
	Scopes []string `json:"scopes"`
	// Header carries the token upstream (default x-mcp-connection-<name>).
	Header string `json:"header"`
	// Pattern (api_key) is a regular expression a key must match whole.
	Pattern string `json:"pattern"`
}

// Connect configures the connect flow and the credential store.
type Connect struct {
	// LoginIssuer is the OIDC issuer users log in with at /connect (default:
	// the first configured issuer); their sub must match the caller's.
	LoginIssuer string `json:"login_issuer"`
	// ClientID and ClientSecretFile are this service's OIDC client there.
	ClientID         string `json:"client_id"`
	ClientSecretFile string `json:"client_secret_file"`
	// BaseURL is the public URL the /connect pages are reached at (default:
	// the default hop's public_origin).
	BaseURL string `json:"base_url"`
	// StateDir holds the embedded credential store (credentials.db).
	StateDir string `json:"state_dir"`
	// EncryptionKeyFile holds the AES-256 keys sealing credentials and
	// requestState: one base64 key per line, the first seals.
	EncryptionKeyFile string `json:"encryption_key_file"`
	// Redis replaces the embedded store for several replicas.
	Redis ConnectRedis `json:"redis"`
	// ElicitationTTL bounds how long a connect link works (single use).
	ElicitationTTL Duration `json:"elicitation_ttl"`
	// RequestStateTTL bounds a 2026-07-28 requestState.
	RequestStateTTL Duration `json:"request_state_ttl"`
	// CapabilityCache bounds the remembered 2025-11-25 client capabilities.
	CapabilityCache int `json:"capability_cache"`
}

// ConnectRedis is the shared credential store.
type ConnectRedis struct {
	Addr         string `json:"addr"`
	Username     string `json:"username"`
	PasswordFile string `json:"password_file"`
	DB           int    `json:"db"`
	KeyPrefix    string `json:"key_prefix"`
}

// ConnectEnabled reports whether providers are configured.
func (c *Config) ConnectEnabled() bool { return len(c.Providers) > 0 }

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (c *Config) applyConnectDefaults() {
	setDur(&c.Connect.ElicitationTTL, DefaultElicitationTTL)
	setDur(&c.Connect.RequestStateTTL, DefaultRequestStateTTL)
	setInt(&c.Connect.CapabilityCache, DefaultCapabilityCache)
	if c.Connect.LoginIssuer == "" && len(c.Issuers) > 0 {
		c.Connect.LoginIssuer = c.Issuers[0].Issuer
	}
	if c.Connect.BaseURL == "" && len(c.Resources) > 0 {
		c.Connect.BaseURL = c.Resources[0].PublicOrigin
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		setStr(&p.Kind, "oauth2")
		setStr(&p.Header, "x-mcp-connection-"+p.Name)
		p.Header = strings.ToLower(p.Header)
	}
}

func (c *Config) validateConnect(add addFunc) {
	seen := map[string]bool{}
	for i := range c.Providers {
		c.validateProvider(add, i, seen)
	}
	if !c.ConnectEnabled() {
		return
	}
	k := c.Connect
	if k.ClientID == "" {
		add("connect.client_id", "required with providers (the OIDC client users log in through)")
	}
	if k.EncryptionKeyFile == "" {
		add("connect.encryption_key_file", "required with providers")
	}
	if k.StateDir == "" && k.Redis.Addr == "" {
		add("connect.state_dir", "required with providers (or connect.redis.addr)")
	}
	if !httpURL(k.LoginIssuer) {
		add("connect.login_issuer", "want an http(s) URL, got %q", k.LoginIssuer)
	}
	if !httpURL(k.BaseURL) {
		add("connect.base_url", "want an http(s) URL, got %q", k.BaseURL)
	}
	for key, d := range map[string]Duration{"connect.elicitation_ttl": k.ElicitationTTL, "connect.request_state_ttl": k.RequestStateTTL} {
		if d.D() <= 0 || d.D() > maxConnectTTL {
			add(key, "must be in (0, 1h]")
		}
	}
	if k.CapabilityCache < 1 {
		add("connect.capability_cache", "must be at least 1")
	}
}

func (c *Config) validateProvider(add addFunc, i int, seen map[string]bool) {
	p := c.Providers[i]
	key := fmt.Sprintf("providers[%d]", i)
	if !providerName.MatchString(p.Name) || seen[p.Name] {
		add(key+".name", "want a unique name of [a-z0-9_-], got %q", p.Name)
	}
	seen[p.Name] = true
	if !validHeaderName(p.Header) || reservedHeader(p.Header) {
		add(key+".header", "%q is not a header this service may set", p.Header)
	}
	switch p.Kind {
	case "api_key":
		if _, err := regexp.Compile(p.Pattern); err != nil {
			add(key+".pattern", "not a regular expression: %v", err)
		}
	case "oauth2":
		if p.Issuer == "" && (!httpURL(p.AuthorizationEndpoint) || !httpURL(p.TokenEndpoint)) {
			add(key, "oauth2 needs issuer, or authorization_endpoint and token_endpoint")
		}
		if p.ClientID == "" {
			add(key+".client_id", "required for oauth2")
		}
	default:
		add(key+".kind", "must be oauth2 or api_key, got %q", p.Kind)
	}
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

var headerToken = regexp.MustCompile(`^[a-z0-9!#$%&'*+.^_|~-]+$`)

func validHeaderName(h string) bool { return headerToken.MatchString(h) }

// reservedHeader refuses headers with meaning to Envoy, HTTP or identity.
func reservedHeader(h string) bool {
	switch h {
	case "authorization", "host", "cookie", "content-length", "content-type", "transfer-encoding", "dpop":
		return true
	}
	return strings.HasPrefix(h, ":") || strings.HasPrefix(h, "x-envoy-") || strings.HasPrefix(h, "x-mcp-authz-")
}
