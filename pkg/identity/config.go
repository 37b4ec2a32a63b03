package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/identity/dpop"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultRolesClaim         = "roles"
	DefaultSkew               = 30 * time.Second
	DefaultMaxTokenBytes      = 8192
	DefaultCacheSize          = 10000
	DefaultJWKSRefresh        = 5 * time.Minute
	DefaultMaxStaleness       = time.Hour
	DefaultFetchTimeout       = 5 * time.Second
	DefaultMaxJWKSBytes       = 1 << 20
	DefaultMinRefetchInterval = 30 * time.Second
)

// Upper bounds on limits, so a typo in configuration cannot disable one.
const (
	maxTokenBytesLimit = 64 << 10
	maxJWKSBytesLimit  = 16 << 20
	maxCacheSizeLimit  = 10_000_000
	maxSkewLimit       = 10 * time.Minute
	minJWKSRefresh     = time.Second
)

// asymmetricAlgorithms are the only JWS algorithms an issuer may allow:
// never "none", never HMAC.
var asymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// DefaultAlgorithms returns the signature algorithm allowlist of an issuer
// that names none: every asymmetric JWS algorithm, never "none", never HMAC.
func DefaultAlgorithms() []string { return slices.Clone(asymmetricAlgorithms) }

// Config configures a Verifier. Zero values take the defaults above.
type Config struct {
	// Issuers are the trusted authorization servers; at least one.
	Issuers []IssuerConfig
	// RolesClaim names the claim holding roles; the name is taken
	// literally. Default "roles".
	RolesClaim string
	// RolesClaimFormat is the one shape the roles claim may have:
	// RolesArray (default: a JSON array of strings), RolesString (one role)
	// or RolesSpaceSeparated (a string of roles separated by spaces, like
	// scope). Any other shape yields no roles and Principal.RolesError.
	RolesClaimFormat string
	// Skew is the clock skew allowed on exp, nbf and iat. Default 30s.
	Skew time.Duration
	// MaxTokenBytes caps the token; a larger one is refused before parsing.
	// Default 8192.
	MaxTokenBytes int
	// CacheSize is the number of verified tokens remembered. Default 10000.
	CacheSize int
	// JWKSRefresh is the background refresh interval of remote key sets and
	// the longest a verified token is served from the cache. Default 5m.
	JWKSRefresh time.Duration
	// MaxStaleness is how long the last good key set keeps serving while its
	// endpoint fails, counted from the last successful fetch. Default 1h.
	MaxStaleness time.Duration
	// FetchTimeout bounds one key-set or discovery fetch. Default 5s.
	FetchTimeout time.Duration
	// MaxJWKSBytes caps a key-set or discovery response (and a JWKS file).
	// Default 1 MiB.
	MaxJWKSBytes int
	// MinRefetchInterval is the least time between two on-demand fetches
	// of one issuer's keys (unknown kid, stale set). Default 30s.
	MinRefetchInterval time.Duration
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// DPoP configures the DPoP proof checker (its Clock defaults to Clock).
	DPoP dpop.Options
	// Logger receives key-set events; nil discards them. Tokens are never
	// logged.
	Logger *slog.Logger
	// Inherit, when set, is the Verifier this one replaces (a configuration
	// reload). A remote issuer whose key source is configured the same way
	// takes over Inherit's source with the keys it already fetched, so a
	// reload while an IdP is down keeps serving its last good keys; a
	// background refresh is started for it instead of a blocking fetch.
	// Inherit's Close then leaves the taken-over sources running. A
	// jwks_file is always read anew.
	Inherit *Verifier
}

// IssuerConfig is one trusted authorization server. Exactly one of
// JWKSFile, JWKSURL and DiscoveryURL names where its keys come from.
type IssuerConfig struct {
	// Issuer is the exact iss value of the tokens it issues.
	Issuer string
	// JWKSFile is a local JWK Set, read once by New.
	JWKSFile string
	// JWKSURL is the HTTPS URL of the JWK Set.
	JWKSURL string
	// DiscoveryURL is an OIDC /.well-known/openid-configuration or RFC 8414
	// authorization server metadata URL supplying jwks_uri; its issuer
	// must equal Issuer.
	DiscoveryURL string
	// CAFile is a PEM bundle; when set, only these CAs are trusted for the
	// issuer's HTTPS endpoints.
	CAFile string
	// InsecureHTTP allows plain http:// URLs. For development only; New
	// logs "[INSECURE CONFIG]" when it is set.
	InsecureHTTP bool
	// Algorithms is the allowlist of JWS algorithms; default
	// DefaultAlgorithms(). Only asymmetric algorithms are accepted.
	Algorithms []string
	// RequireTyp, when set, is the required typ header, e.g. "at+jwt"
	// (RFC 9068); "application/" prefix and case are ignored.
	RequireTyp string
	// RequireDPoP refuses this issuer's tokens unless presented with the
	// DPoP scheme and a valid proof.
	RequireDPoP bool
	// RequireClaims lists RFC 9068 claims this issuer's tokens must carry
	// besides iss, exp, aud and sub (always required): any of client_id,
	// jti and iat. Default none.
	RequireClaims []string
	// AllowMultiAudience accepts a token whose aud lists other resources
	// besides this hop's (RFC 7519 "contains" semantics). Off by default:
	// such a token is valid at the other hops too, which may replay it
	// here.
	AllowMultiAudience bool
	// KIDOptional accepts a token without a kid header while the issuer's
	// key set holds exactly one key usable for the token's alg. Off by
	// default: a token without kid is refused.
	KIDOptional bool
	// DPoP holds this issuer's DPoP exceptions.
	DPoP IssuerDPoP
}

// IssuerDPoP holds one issuer's DPoP exceptions.
type IssuerDPoP struct {
	// IgnoreProofWithBearer accepts a DPoP header beside an
	// "Authorization: Bearer" token and ignores it. Off by default: the
	// pair is refused as invalid_dpop_proof.
	IgnoreProofWithBearer bool
}

// Roles claim formats (Config.RolesClaimFormat).
const (
	RolesArray          = "array"
	RolesString         = "string"
	RolesSpaceSeparated = "space_separated"
)

// requirableClaims are the claims IssuerConfig.RequireClaims may name; the
// first four are always required, so naming them changes nothing.
var requirableClaims = []string{"iss", "exp", "aud", "sub", "client_id", "jti", "iat"}

// withDefaults returns c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	c.RolesClaim = defaultString(c.RolesClaim, DefaultRolesClaim)
	c.RolesClaimFormat = defaultString(c.RolesClaimFormat, RolesArray)
	c.Skew = defaultDuration(c.Skew, DefaultSkew)
	c.MaxTokenBytes = defaultInt(c.MaxTokenBytes, DefaultMaxTokenBytes)
	c.CacheSize = defaultInt(c.CacheSize, DefaultCacheSize)
	c.JWKSRefresh = defaultDuration(c.JWKSRefresh, DefaultJWKSRefresh)
	c.MaxStaleness = defaultDuration(c.MaxStaleness, DefaultMaxStaleness)
	c.FetchTimeout = defaultDuration(c.FetchTimeout, DefaultFetchTimeout)
	c.MaxJWKSBytes = defaultInt(c.MaxJWKSBytes, DefaultMaxJWKSBytes)
	c.MinRefetchInterval = defaultDuration(c.MinRefetchInterval, DefaultMinRefetchInterval)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.DPoP.Clock == nil {
		c.DPoP.Clock = c.Clock
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	issuers := make([]IssuerConfig, len(c.Issuers))
	for i, ic := range c.Issuers {
		if len(ic.Algorithms) == 0 {
			ic.Algorithms = DefaultAlgorithms()
		}
		issuers[i] = ic
	}
	c.Issuers = issuers
	return c
}

// validate returns every problem of a defaulted Config, each naming its field.
func (c Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("identity: %s: "+format, append([]any{field}, args...)...))
	}
	if len(c.Issuers) == 0 {
		bad("Issuers", "at least one issuer is required")
	}
	checkRange(bad, "Skew", c.Skew, 0, maxSkewLimit)
	checkIntRange(bad, "MaxTokenBytes", c.MaxTokenBytes, 1, maxTokenBytesLimit)
	checkIntRange(bad, "CacheSize", c.CacheSize, 1, maxCacheSizeLimit)
	checkIntRange(bad, "MaxJWKSBytes", c.MaxJWKSBytes, 1, maxJWKSBytesLimit)
	checkRange(bad, "JWKSRefresh", c.JWKSRefresh, minJWKSRefresh, 24*time.Hour)
	checkRange(bad, "MaxStaleness", c.MaxStaleness, time.Nanosecond, 30*24*time.Hour)
	checkRange(bad, "FetchTimeout", c.FetchTimeout, time.Millisecond, 5*time.Minute)
	checkRange(bad, "MinRefetchInterval", c.MinRefetchInterval, 0, 24*time.Hour)
	if strings.TrimSpace(c.RolesClaim) != c.RolesClaim {
		bad("RolesClaim", "must not have surrounding spaces")
	}
	if !slices.Contains([]string{RolesArray, RolesString, RolesSpaceSeparated}, c.RolesClaimFormat) {
		bad("RolesClaimFormat", "%q is not %s, %s or %s", c.RolesClaimFormat, RolesArray, RolesString, RolesSpaceSeparated)
	}
	seen := map[string]int{}
	for i, ic := range c.Issuers {
		field := fmt.Sprintf("Issuers[%d]", i)
		if j, dup := seen[ic.Issuer]; dup && ic.Issuer != "" {
			bad(field+".Issuer", "duplicates Issuers[%d]", j)
		}
		seen[ic.Issuer] = i
		errs = append(errs, ic.validate(field)...)
	}
	return errors.Join(errs...)
}

// validate returns the problems of one issuer, prefixed with field.
func (ic IssuerConfig) validate(field string) []error {
	var errs []error
	bad := func(sub, format string, args ...any) {
		errs = append(errs, fmt.Errorf("identity: %s.%s: "+format, append([]any{field, sub}, args...)...))
	}
	if ic.Issuer == "" {
		bad("Issuer", "is required")
	}
	sources := 0
	for _, s := range []string{ic.JWKSFile, ic.JWKSURL, ic.DiscoveryURL} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		bad("JWKSFile", "exactly one of JWKSFile, JWKSURL and DiscoveryURL is required (got %d)", sources)
	}
	if ic.JWKSURL != "" {
		if err := checkFetchURL(ic.JWKSURL, ic.InsecureHTTP); err != nil {
			bad("JWKSURL", "%v", err)
		}
	}
	if ic.DiscoveryURL != "" {
		if err := checkFetchURL(ic.DiscoveryURL, ic.InsecureHTTP); err != nil {
			bad("DiscoveryURL", "%v", err)
		}
	}
	if ic.JWKSFile != "" && (ic.CAFile != "" || ic.InsecureHTTP) {
		bad("CAFile", "CAFile and InsecureHTTP apply only to JWKSURL or DiscoveryURL")
	}
	for _, a := range ic.Algorithms {
		if !slices.Contains(asymmetricAlgorithms, a) {
			bad("Algorithms", "%q is not an allowed asymmetric JWS algorithm (allowed: %s)", a, strings.Join(asymmetricAlgorithms, ", "))
		}
	}
	if ic.RequireTyp != "" && normaliseTyp(ic.RequireTyp) == "" {
		bad("RequireTyp", "%q is empty after normalisation", ic.RequireTyp)
	}
	for _, c := range ic.RequireClaims {
		if !slices.Contains(requirableClaims, c) {
			bad("RequireClaims", "%q is not one of %s", c, strings.Join(requirableClaims, ", "))
		}
	}
	return errs
}

// relaxed names the strict token-profile rules ic opts out of, for the
// start-up log.
func (ic IssuerConfig) relaxed() []string {
	var out []string
	for _, r := range []struct {
		on   bool
		name string
	}{
		{ic.AllowMultiAudience, "allow_multi_audience"},
		{ic.KIDOptional, "kid_optional"},
		{ic.DPoP.IgnoreProofWithBearer, "dpop.ignore_proof_with_bearer"},
	} {
		if r.on {
			out = append(out, r.name)
		}
	}
	return out
}

// checkFetchURL accepts an absolute https URL (or http with insecure) with
// a host, no user info and no fragment.
func checkFetchURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL: %w", err)
	}
	switch {
	case u.Scheme == "http" && !insecure:
		return errors.New("plain http requires InsecureHTTP")
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("scheme %q is not https", u.Scheme)
	case u.Host == "":
		return errors.New("URL has no host")
	case u.User != nil:
		return errors.New("URL must not carry user info")
	case u.Fragment != "":
		return errors.New("URL must not have a fragment")
	}
	return nil
}

// normaliseTyp lower-cases a typ value and drops an "application/" prefix
// (RFC 7515 section 4.1.9).
func normaliseTyp(typ string) string {
	t := strings.ToLower(strings.TrimSpace(typ))
	return strings.TrimPrefix(t, "application/")
}

func checkRange(bad func(string, string, ...any), field string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		bad(field, "%v is outside [%v, %v]", d, lo, hi)
	}
}

func checkIntRange(bad func(string, string, ...any), field string, n, lo, hi int) {
	if n < lo || n > hi {
		bad(field, "%d is outside [%d, %d]", n, lo, hi)
	}
}

func defaultString(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func defaultDuration(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

func defaultInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}
