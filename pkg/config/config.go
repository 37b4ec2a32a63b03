// Package config defines mcp-authz's configuration file: one YAML document,
// every key documented here, defaults in one const block, unknown keys
// rejected and every problem reported at once, each naming its key.
//
// The file is the operator's contract; keys are never renamed once released.
// Limits that bound what a caller controls (body bytes, JSON depth, token
// bytes, cache sizes, timeouts) all live here, so there is one place to read
// how much a request may cost.
package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Defaults. Every default is a named constant so docs and code agree.
const (
	DefaultListen           = "127.0.0.1:9191"
	DefaultAdminListen      = "127.0.0.1:9192"
	DefaultMCPPath          = "/mcp"
	DefaultRolesClaim       = "roles"
	DefaultRolesClaimFormat = "array"
	DefaultPolicyDenyStatus = 200
	DefaultDenyFormat       = "jsonrpc_error"
	DefaultBodyBytes        = 1 << 20
	DefaultJSONDepth        = 64
	DefaultJSONNumbers      = 10000
	DefaultTokenBytes       = 8 << 10
	DefaultPolicyDeadline   = 50 * time.Millisecond
	// DefaultDecisionCacheSize bounds the decision cache (entries per
	// bundle revision; each a key of at most 4 KiB and a shared result).
	DefaultDecisionCacheSize = 1024
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultLameDuck          = 5 * time.Second
	DefaultDeadlineMargin    = 20 * time.Millisecond
	DefaultMaxInFlight       = 4096
	DefaultSkew              = 30 * time.Second
	DefaultTokenCacheSize    = 10000
	DefaultJWKSRefresh       = 5 * time.Minute
	DefaultMaxStaleness      = time.Hour
	DefaultFetchTimeout      = 5 * time.Second
	DefaultMinRefetch        = 30 * time.Second
	DefaultDPoPWindow        = 60 * time.Second
	DefaultReplayCacheSize   = 100000
	DefaultNonceLifetime     = 2 * time.Minute
	DefaultDriftInterval     = 5 * time.Minute
	DefaultLogBuffer         = 10000
	DefaultLogFlushInterval  = 100 * time.Millisecond
	DefaultBundleMinDelay    = 10 * time.Second
	DefaultBundleMaxDelay    = 20 * time.Second
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the gRPC address (ext_authz Check and grpc.health.v1).
	Listen string `json:"listen"`
	// AdminListen is the admin HTTP address: /healthz, /readyz (with
	// per-issuer errors) and /metrics. A non-loopback address is logged as
	// [INSECURE CONFIG] unless AdminListenPublic is set.
	AdminListen string `json:"admin_listen"`
	// AdminListenPublic says a non-loopback AdminListen is deliberate (e.g.
	// kubelet probes on the pod IP), silencing the [INSECURE CONFIG] warning.
	AdminListenPublic bool `json:"admin_listen_public"`
	// Pprof serves Go's profiler at /debug/pprof/ on the admin listener, for
	// profiling under real load (as OPA's --pprof). Off by default: profiles
	// name code paths and cost CPU while they run.
	Pprof bool `json:"pprof"`
	// PublicListen is the public HTTP address serving RFC 9728 Protected
	// Resource Metadata; empty disables it. Never the admin address.
	PublicListen string `json:"public_listen"`
	// Resource is this hop's resource identifier (RFC 8707): tokens must
	// carry it in aud. Used when Resources is empty.
	Resource string `json:"resource"`
	// MCPPath is the MCP endpoint path, matched exactly. Used with Resource.
	MCPPath string `json:"mcp_path"`
	// PublicOrigin is the origin clients use for this hop (for DPoP htu and
	// resource_metadata); default: the scheme and host of Resource.
	PublicOrigin string `json:"public_origin"`
	// Resources is the per-hop table for one deployment serving many MCP
	// servers: host + path → resource. Overrides Resource/MCPPath.
	Resources []Hop `json:"resources"`
	// AllowedOrigins lists the browser Origins accepted; a request with any
	// other Origin header is refused (DNS-rebinding protection).
	AllowedOrigins []string `json:"allowed_origins"`
	// Issuers are the trusted token issuers.
	Issuers []Issuer `json:"issuers"`
	// RolesClaim names the claim roles are read from.
	RolesClaim string `json:"roles_claim"`
	// RolesClaimFormat is the one shape the roles claim may have: array (a
	// JSON array of strings), string (one role) or space_separated (roles
	// separated by spaces, like scope). Any other shape yields no roles and
	// the reason invalid_roles_claim when a call needs them.
	RolesClaimFormat string `json:"roles_claim_format"`
	// Identity tunes token verification.
	Identity Identity `json:"identity"`
	// DPoP tunes DPoP proof verification (RFC 9449).
	DPoP DPoP `json:"dpop"`
	// Bundle says where the policy bundle comes from.
	Bundle Bundle `json:"bundle"`
	// Policy tunes evaluation.
	Policy Policy `json:"policy"`
	// PolicyDenyStatus is the HTTP status of a policy denial of a JSON-RPC
	// request: 200 (a JSON-RPC error the model can read) or 403.
	PolicyDenyStatus int `json:"policy_deny_status"`
	// DenyFormat is how a policy denial of a tools/call is answered:
	// "jsonrpc_error" (a JSON-RPC error -32003, the default) or "tool_result"
	// (SEP-2643: a CallToolResult with isError and the authorization envelope
	// in _meta, HTTP 200).
	DenyFormat string `json:"deny_format"`
	// Limits bound what a caller controls.
	Limits Limits `json:"limits"`
	// RateLimits says where rate limits and budgets are counted.
	RateLimits RateLimits `json:"rate_limits"`
	// DriftWatch lists upstreams whose live tools are compared with the
	// approved manifests at an interval.
	DriftWatch []DriftUpstream `json:"drift_watch"`
	// ExtProc bounds the response processor (ext_proc).
	ExtProc ExtProc `json:"extproc"`
	// CheckDeadlineMargin is kept free before the caller's gRPC deadline:
	// every wait inside a Check (a key-set refetch it joins, the policy
	// evaluation) ends this long before it, so the deny that names the
	// cause reaches Envoy in time instead of a DEADLINE_EXCEEDED error. A
	// deadline under twice the margin away keeps half the remaining time.
	CheckDeadlineMargin Duration `json:"check_deadline_margin"`
	// Shutdown tunes the drain on SIGTERM.
	Shutdown Shutdown `json:"shutdown"`
	// ShutdownTimeout is the older name of Shutdown.Timeout, kept as an
	// alias; setting both to different values is an error.
	ShutdownTimeout Duration `json:"shutdown_timeout"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// TokenMinting configures the per-hop tokens this service signs for
	// upstreams (see tokens.go); empty means no minting.
	TokenMinting TokenMinting `json:"token_minting"`
	// UpstreamToken is what the default hop (and every hop without its own)
	// sends upstream: a minted token, an exchanged one, or (none) the caller's.
	UpstreamToken UpstreamToken `json:"upstream_token"`
	// TokenExchange is the RFC 8693 security token service of every hop and
	// issuer without its own.
	TokenExchange *TokenExchange `json:"token_exchange"`
	// Providers are the third-party services users connect to through the
	// connect flow (see connect.go); empty disables it.
	Providers []Provider `json:"providers"`
	// Connect configures the connect flow and the credential store.
	Connect Connect `json:"connect"`
	// Mode is enforce (default) or shadow: shadow decides and logs every
	// request as enforcing would but answers allow, except the service's
	// own failures (no bundle, overload). Each resources entry may set its own.
	Mode string `json:"mode"`
	// DecisionLog is the audit trail: one record per decision.
	DecisionLog DecisionLog `json:"decision_log"`
	// Tracing exports OpenTelemetry spans of every Check; off when empty.
	Tracing Tracing `json:"tracing"`
	// TLS serves the gRPC listener over TLS (mTLS with client_ca_file);
	// its admin and public blocks do the same for those listeners.
	TLS TLS `json:"tls"`
}

// Modes.
const (
	ModeEnforce = "enforce"
	ModeShadow  = "shadow"
)

// Decision log outputs.
const (
	OutputStdout = "stdout"
	OutputFile   = "file"
	OutputHTTP   = "http"
)

// TLS is the gRPC listener's TLS, with the admin and public listeners'.
type TLS struct {
	// CertFile and KeyFile are the PEM certificate chain and key (reloaded
	// when they change); empty: plain text.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ClientCAFile requires client certificates signed by it (mTLS).
	ClientCAFile string `json:"client_ca_file"`
	// Admin is the admin listener's TLS.
	Admin TLSFiles `json:"admin"`
	// Public is the public listener's TLS.
	Public TLSFiles `json:"public"`
}

// TLSFiles are one listener's TLS files.
type TLSFiles struct {
	// CertFile and KeyFile are the PEM certificate chain and key.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ClientCAFile requires client certificates signed by it (mTLS).
	ClientCAFile string `json:"client_ca_file"`
}

// GRPC returns the gRPC listener's files.
func (t TLS) GRPC() TLSFiles {
	return TLSFiles{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile}
}

// Enabled reports whether the listener serves TLS.
func (f TLSFiles) Enabled() bool { return f.CertFile != "" }

// Tracing configures OpenTelemetry tracing; an empty Exporter disables it.
type Tracing struct {
	// Exporter is otlp_grpc or otlp_http ("" = off).
	Exporter string `json:"exporter"`
	// Endpoint is the collector URL, e.g. http://otel-collector:4317.
	Endpoint string `json:"endpoint"`
	// SampleRatio in [0, 1] samples traces Envoy's traceparent did not
	// decide (default 1); a sampled or unsampled parent is always followed.
	SampleRatio *float64 `json:"sample_ratio"`
}

// DecisionLog configures the decision log; an empty Output disables it.
type DecisionLog struct {
	// Output is stdout, file or http ("" = off).
	Output string `json:"output"`
	// Path is the file of output file (rotated at 100 MB, 10 backups kept).
	Path string `json:"path"`
	// Compress gzips each rotated backup of output file in the background.
	// Off by default: gzip of every 100 MB backup costs about a tenth of a
	// 2-core server's CPU at 6,000 decisions/s, taken from Checks.
	Compress bool `json:"compress"`
	// URL is the collector of output http (OPA's decision-log upload format).
	URL string `json:"url"`
	// BufferRecords bounds the records waiting to be written; when full,
	// records are dropped and counted, never blocking a Check.
	BufferRecords int `json:"buffer_records"`
	// FlushInterval is how long the writer gathers records before one
	// write (file, stdout) or upload (http): the most a record waits in
	// the buffer on an idle server. Unset is 100ms.
	FlushInterval Duration `json:"flush_interval"`
	// MaskArguments logs tool arguments through the masking rules of the
	// policy data (data.mcp.decision_log.arguments); when false (the
	// default) arguments are erased from every record.
	MaskArguments bool `json:"mask_arguments"`
}

// Shutdown tunes the drain on SIGTERM: health goes NOT_SERVING at once,
// Checks keep being answered for LameDuck (so load balancers and Envoy's
// health checker see NOT_SERVING first), then in-flight Checks drain for at
// most Timeout. A second SIGTERM or SIGINT skips the rest of LameDuck.
type Shutdown struct {
	// LameDuck is how long the gRPC listener keeps accepting after SIGTERM
	// ("0s" turns it off; unset is the default). Read it with LameDuckD.
	LameDuck *Duration `json:"lame_duck"`
	// Timeout bounds the drain of in-flight Checks after LameDuck.
	Timeout Duration `json:"timeout"`
}

// LameDuckD is LameDuck as a time.Duration (the default when unset).
func (s Shutdown) LameDuckD() time.Duration {
	if s.LameDuck == nil {
		return DefaultLameDuck
	}
	return s.LameDuck.D()
}

// Hop maps a host and path to the resource identifier tokens must carry.
type Hop struct {
	// Host is the :authority to match (case-insensitive, port ignored); empty matches any.
	Host string `json:"host"`
	// Path is the MCP endpoint path, matched exactly.
	Path string `json:"path"`
	// Resource is the resource identifier (aud) of this hop.
	Resource string `json:"resource"`
	// PublicOrigin is the origin clients use, e.g. https://mcp.example.test.
	PublicOrigin string `json:"public_origin"`
	// Server is the registry name of the upstream MCP server (optional:
	// found in the bundle's registry by resource when empty).
	Server string `json:"server"`
	// AuthorizationServers are advertised in the RFC 9728 metadata
	// (default: the configured issuers).
	AuthorizationServers []string `json:"authorization_servers"`
	// ScopesSupported are advertised in the RFC 9728 metadata.
	ScopesSupported []string `json:"scopes_supported"`
	// DestinationPrincipal, when set, must equal Envoy's destination.principal
	// (Istio: the SPIFFE ID of the workload whose sidecar asks). Use it when
	// several hops share a path: the Host header is the client's choice.
	DestinationPrincipal string `json:"destination_principal"`
	// UpstreamToken overrides the top-level upstream_token for this hop.
	UpstreamToken *UpstreamToken `json:"upstream_token"`
	// TokenExchange overrides the issuer's and the top-level token_exchange
	// for this hop.
	TokenExchange *TokenExchange `json:"token_exchange"`
	// Mode is enforce or shadow for this hop (default: the top-level mode).
	Mode string `json:"mode"`
}

// Issuer is one trusted token issuer and where its keys come from.
type Issuer struct {
	// Issuer is the exact iss value.
	Issuer string `json:"issuer"`
	// JWKSFile is a local JWKS file.
	JWKSFile string `json:"jwks_file"`
	// JWKSURL is an HTTPS JWKS endpoint.
	JWKSURL string `json:"jwks_url"`
	// DiscoveryURL is OIDC discovery or RFC 8414 metadata supplying jwks_uri.
	DiscoveryURL string `json:"discovery_url"`
	// CAFile is a PEM bundle trusted for this issuer's HTTPS endpoints.
	CAFile string `json:"ca_file"`
	// InsecureHTTP allows plain http:// endpoints. Logged as [INSECURE CONFIG].
	InsecureHTTP bool `json:"insecure_http"`
	// Algorithms is the signature algorithm allowlist (asymmetric only).
	Algorithms []string `json:"algorithms"`
	// RequireTyp requires this JWT typ header, e.g. at+jwt (RFC 9068).
	RequireTyp string `json:"require_typ"`
	// RequireDPoP refuses this issuer's tokens unless DPoP-bound and proven.
	RequireDPoP bool `json:"require_dpop"`
	// TokenExchange is the security token service exchanging this issuer's
	// tokens on hops in exchange mode (a hop's own token_exchange wins).
	TokenExchange *TokenExchange `json:"token_exchange"`
	// RequireClaims lists RFC 9068 claims required besides iss, exp, aud
	// and sub (always required): client_id, jti, iat.
	RequireClaims []string `json:"require_claims"`
	// AllowMultiAudience accepts an aud listing other resources besides
	// this hop's (RFC 7519 "contains"); by default such a token is refused.
	AllowMultiAudience bool `json:"allow_multi_audience"`
	// KIDOptional accepts a token without kid while the issuer's key set
	// holds exactly one key usable for its alg; by default kid is required.
	KIDOptional bool `json:"kid_optional"`
	// DPoP holds this issuer's DPoP exceptions.
	DPoP IssuerDPoP `json:"dpop"`
}

// IssuerDPoP holds one issuer's DPoP exceptions.
type IssuerDPoP struct {
	// IgnoreProofWithBearer ignores a DPoP header sent beside an
	// Authorization: Bearer token; by default the pair is refused (401
	// invalid_dpop_proof).
	IgnoreProofWithBearer bool `json:"ignore_proof_with_bearer"`
}

// Identity tunes token verification.
type Identity struct {
	// Skew is the clock skew allowed on exp, nbf and iat.
	Skew Duration `json:"skew"`
	// CacheSize bounds the verified-token cache (entries).
	CacheSize int `json:"cache_size"`
	// JWKSRefresh is the background JWKS refresh interval.
	JWKSRefresh Duration `json:"jwks_refresh"`
	// MaxStaleness bounds how long a last-good key set serves while its endpoint is down.
	MaxStaleness Duration `json:"max_staleness"`
	// FetchTimeout bounds one JWKS or discovery fetch.
	FetchTimeout Duration `json:"fetch_timeout"`
	// MinRefetchInterval is the least time between two on-demand fetches of
	// one issuer's keys (an unknown kid, a stale set): no refetch storm.
	MinRefetchInterval Duration `json:"min_refetch_interval"`
}

// DPoP tunes proof-of-possession checks.
type DPoP struct {
	// Algorithms allowed for proofs.
	Algorithms []string `json:"algorithms"`
	// IATWindow is how far a proof's iat may be from now (and the replay window).
	IATWindow Duration `json:"iat_window"`
	// ReplayCacheSize bounds the live jti entries; when full, new proofs are refused.
	ReplayCacheSize int `json:"replay_cache_size"`
	// Nonce configures stateless server nonces (RFC 9449 §8).
	Nonce DPoPNonce `json:"nonce"`
}

// DPoPNonce configures DPoP server nonces: AEAD-sealed timestamps under a
// key every replica shares, so any replica accepts any replica's nonce.
type DPoPNonce struct {
	// Enabled requires every DPoP proof to carry a valid, unexpired nonce
	// (else 401 use_dpop_nonce with a fresh DPoP-Nonce).
	Enabled bool `json:"enabled"`
	// KeyFile holds the 32-byte shared key, raw or as base64 or hex (a secret).
	KeyFile string `json:"key_file"`
	// Lifetime is how long an issued nonce is accepted.
	Lifetime Duration `json:"lifetime"`
}

// Bundle says where the policy bundle comes from.
type Bundle struct {
	// Path is a bundle .tar.gz or directory, reloaded when it changes;
	// empty (and no URL) uses the embedded default bundle.
	Path string `json:"path"`
	// URL is a bundle server speaking OPA's bundle protocol (ETag,
	// If-None-Match, polling, long polling). Exclusive with Path.
	URL string `json:"url"`
	// Poll tunes how URL is polled.
	Poll BundlePoll `json:"poll"`
	// CredentialsFile holds the bearer token sent to URL (read at each
	// request, so it may rotate).
	CredentialsFile string `json:"credentials_file"`
	// CAFile is a PEM bundle trusted for URL's TLS.
	CAFile string `json:"ca_file"`
	// VerificationKeyFile is a PEM public key; when set the bundle must be
	// signed with it (the signature's kid names it: key_id, or "default").
	VerificationKeyFile string `json:"verification_key_file"`
	// VerificationAlgorithm is VerificationKeyFile's JWS algorithm
	// (default: inferred from the key, RS256 for RSA, ES256/384/512 by
	// curve).
	VerificationAlgorithm string `json:"verification_algorithm"`
	// Keys are the verification keys by key id (OPA's keys map); the
	// signature's kid picks one. Exclusive with VerificationKeyFile.
	Keys map[string]BundleKey `json:"keys"`
	// KeyID is the key that must have signed: the name of
	// VerificationKeyFile's key, or the one entry of Keys that verifies.
	KeyID string `json:"key_id"`
	// Scope must equal the signature's scope claim; empty, a signature
	// that carries a scope is refused (OPA's rule).
	Scope string `json:"scope"`
	// PersistDir keeps the last good bundle from URL, served at the next
	// start while the bundle server is down.
	PersistDir string `json:"persist_dir"`
}

// BundleKey is one bundle verification key (an entry of OPA's keys map).
type BundleKey struct {
	// Algorithm is the JWS algorithm (default: inferred from the key).
	Algorithm string `json:"algorithm"`
	// KeyFile is the PEM public key file.
	KeyFile string `json:"key_file"`
}

// Verifies reports whether bundles must be signed.
func (b Bundle) Verifies() bool { return b.VerificationKeyFile != "" || len(b.Keys) > 0 }

// BundlePoll is OPA's polling configuration (whole seconds).
type BundlePoll struct {
	// MinDelay is the least wait between two polls (default 10s).
	MinDelay Duration `json:"min_delay"`
	// MaxDelay is the most wait between polls and retries (default 20s).
	MaxDelay Duration `json:"max_delay"`
	// LongPollingTimeout asks the server to hold a poll until a new
	// revision or this timeout (0: no long polling).
	LongPollingTimeout Duration `json:"long_polling_timeout"`
}

// Policy tunes evaluation.
type Policy struct {
	// Deadline bounds one evaluation; keep it below Envoy's ext_authz timeout.
	Deadline Duration `json:"deadline"`
	// EnableNetwork allows http.send and net.lookup_ip_addr in policies.
	EnableNetwork bool `json:"enable_network"`
	// DecisionCache memoises decisions per bundle revision on the exact
	// input paths the bundle's rules can read.
	DecisionCache DecisionCache `json:"decision_cache"`
}

// DecisionCache bounds the policy decision cache.
type DecisionCache struct {
	// Size is the most decisions kept per bundle revision; 0 turns the
	// cache off; unset is DefaultDecisionCacheSize.
	Size *int `json:"size"`
}

// Entries returns the configured size, the default when unset.
func (d DecisionCache) Entries() int {
	if d.Size == nil {
		return DefaultDecisionCacheSize
	}
	return *d.Size
}

// Limits bound what a caller controls.
type Limits struct {
	// BodyBytes is the largest request body accepted.
	BodyBytes int `json:"body_bytes"`
	// JSONDepth is the deepest JSON nesting accepted.
	JSONDepth int `json:"json_depth"`
	// JSONNumbers is the most number literals one message may carry: each
	// costs an exact-rational conversion when arguments are validated.
	JSONNumbers int `json:"json_numbers"`
	// TokenBytes is the largest access token accepted.
	TokenBytes int `json:"token_bytes"`
	// MaxInFlight bounds concurrent Checks; beyond it a Check is denied (503 overloaded).
	MaxInFlight int `json:"max_in_flight"`
}

// DriftUpstream is one upstream MCP server watched for manifest drift.
type DriftUpstream struct {
	// Server is the registry name of the upstream.
	Server string `json:"server"`
	// URL is its Streamable HTTP endpoint.
	URL string `json:"url"`
	// TokenFile holds the bearer token the watcher presents (optional).
	TokenFile string `json:"token_file"`
	// Interval between polls.
	Interval Duration `json:"interval"`
}

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// UnmarshalJSON accepts a duration string such as "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"250ms\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
