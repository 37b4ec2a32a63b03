package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ApplyDefaults fills every unset field with its documented default.
func (c *Config) ApplyDefaults() {
	setStr(&c.Listen, DefaultListen)
	setStr(&c.AdminListen, DefaultAdminListen)
	setStr(&c.MCPPath, DefaultMCPPath)
	setStr(&c.RolesClaim, DefaultRolesClaim)
	setStr(&c.RolesClaimFormat, DefaultRolesClaimFormat)
	setStr(&c.LogLevel, "info")
	setStr(&c.Mode, ModeEnforce)
	setInt(&c.DecisionLog.BufferRecords, DefaultLogBuffer)
	setDur(&c.DecisionLog.FlushInterval, DefaultLogFlushInterval)
	setInt(&c.PolicyDenyStatus, DefaultPolicyDenyStatus)
	setStr(&c.DenyFormat, DefaultDenyFormat)
	setInt(&c.Limits.BodyBytes, DefaultBodyBytes)
	setInt(&c.Limits.JSONDepth, DefaultJSONDepth)
	setInt(&c.Limits.JSONNumbers, DefaultJSONNumbers)
	setInt(&c.Limits.TokenBytes, DefaultTokenBytes)
	setInt(&c.Limits.MaxInFlight, DefaultMaxInFlight)
	setInt(&c.Identity.CacheSize, DefaultTokenCacheSize)
	setInt(&c.DPoP.ReplayCacheSize, DefaultReplayCacheSize)
	setDur(&c.Policy.Deadline, DefaultPolicyDeadline)
	c.defaultShutdown()
	setDur(&c.CheckDeadlineMargin, DefaultDeadlineMargin)
	setDur(&c.Identity.Skew, DefaultSkew)
	setDur(&c.Identity.JWKSRefresh, DefaultJWKSRefresh)
	setDur(&c.Identity.MaxStaleness, DefaultMaxStaleness)
	setDur(&c.Identity.FetchTimeout, DefaultFetchTimeout)
	setDur(&c.Identity.MinRefetchInterval, DefaultMinRefetch)
	setDur(&c.DPoP.IATWindow, DefaultDPoPWindow)
	if c.Bundle.URL != "" {
		setDur(&c.Bundle.Poll.MinDelay, DefaultBundleMinDelay)
		setDur(&c.Bundle.Poll.MaxDelay, max(DefaultBundleMaxDelay, c.Bundle.Poll.MinDelay.D()))
	}
	setDur(&c.DPoP.Nonce.Lifetime, DefaultNonceLifetime)
	c.RateLimits.applyDefaults()
	for i := range c.DriftWatch {
		setDur(&c.DriftWatch[i].Interval, DefaultDriftInterval)
	}
	if len(c.Resources) == 0 && c.Resource != "" {
		c.Resources = []Hop{{Path: c.MCPPath, Resource: c.Resource, PublicOrigin: c.PublicOrigin}}
	}
	c.applyTokenDefaults()
	c.applyExtProcDefaults()
	for i := range c.Resources {
		setStr(&c.Resources[i].Mode, c.Mode)
		if c.Resources[i].PublicOrigin == "" {
			c.Resources[i].PublicOrigin = originOf(c.Resources[i].Resource)
		}
	}
	c.applyConnectDefaults()
}

// Validate returns every problem with the configuration, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	checkAddr(add, "listen", c.Listen, true)
	checkAddr(add, "admin_listen", c.AdminListen, true)
	checkAddr(add, "public_listen", c.PublicListen, false)
	if c.PublicListen != "" && c.PublicListen == c.AdminListen && !strings.HasSuffix(c.PublicListen, ":0") {
		add("public_listen", "must differ from admin_listen (metrics never reach the public port)")
	}
	if len(c.Resources) == 0 {
		add("resource", "required (or resources)")
	}
	c.validateHops(add)
	for i, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			add(fmt.Sprintf("allowed_origins[%d]", i), "want an origin such as https://app.example.com, got %q", o)
		}
	}
	c.validateIssuers(add)
	switch c.RolesClaimFormat {
	case "array", "string", "space_separated":
	default:
		add("roles_claim_format", "must be array, string or space_separated, got %q", c.RolesClaimFormat)
	}
	if c.PolicyDenyStatus != 200 && c.PolicyDenyStatus != 403 {
		add("policy_deny_status", "must be 200 or 403, got %d", c.PolicyDenyStatus)
	}
	if c.DenyFormat != "jsonrpc_error" && c.DenyFormat != "tool_result" {
		add("deny_format", "must be jsonrpc_error or tool_result, got %q", c.DenyFormat)
	}
	c.validateBundle(add)
	c.validateBundleKeys(add)
	c.validateLimits(add)
	c.validateNonce(add)
	c.validateTimes(add)
	c.validateDrift(add)
	c.validateExtProc(add)
	c.validateTokens(add)
	c.validateOperations(add)
	c.validateConnect(add)
	c.RateLimits.validate(add)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	return errors.Join(errs...)
}

// requirableClaims are the values issuers[].require_claims accepts: the
// RFC 9068 section 2.2 claims (iss, exp, aud and sub are always required).
var requirableClaims = []string{"client_id", "jti", "iat", "iss", "exp", "aud", "sub"}

type addFunc func(key, format string, a ...any)

func (c *Config) validateHops(add addFunc) {
	if c.Resource != "" && (len(c.Resources) != 1 || c.Resources[0].Resource != c.Resource || c.Resources[0].Path != c.MCPPath) {
		add("resource", "use resource (with mcp_path) or resources, not both")
	}
	seen := map[string]bool{}
	for i, h := range c.Resources {
		key := fmt.Sprintf("resources[%d]", i)
		if len(c.Resources) == 1 && c.Resource != "" {
			key = "resource"
		}
		if u, err := url.Parse(h.Resource); err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" {
			add(key, "want an absolute URI without fragment (RFC 8707), got %q", h.Resource)
		}
		if !strings.HasPrefix(h.Path, "/") {
			add(key+".path", "must start with /, got %q", h.Path)
		}
		if u, err := url.Parse(h.PublicOrigin); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			add(key+".public_origin", "want an origin such as https://mcp.example.com, got %q", h.PublicOrigin)
		}
		id := strings.ToLower(h.Host) + " " + h.Path + " " + h.DestinationPrincipal
		if seen[id] {
			add(key, "duplicate host %q, path %q and destination_principal %q", h.Host, h.Path, h.DestinationPrincipal)
		}
		seen[id] = true
	}
}

func (c *Config) validateIssuers(add addFunc) {
	if len(c.Issuers) == 0 {
		add("issuers", "at least one issuer is required")
	}
	for i, is := range c.Issuers {
		key := fmt.Sprintf("issuers[%d]", i)
		if is.Issuer == "" {
			add(key+".issuer", "required")
		}
		n := 0
		for _, s := range []string{is.JWKSFile, is.JWKSURL, is.DiscoveryURL} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			add(key, "exactly one of jwks_file, jwks_url, discovery_url is required")
		}
		for _, a := range is.Algorithms {
			if a == "none" || strings.HasPrefix(strings.ToUpper(a), "HS") {
				add(key+".algorithms", "%q is not allowed: only asymmetric algorithms", a)
			}
		}
		for _, rc := range is.RequireClaims {
			if !slices.Contains(requirableClaims, rc) {
				add(key+".require_claims", "%q is not one of %s", rc, strings.Join(requirableClaims, ", "))
			}
		}
	}
}

func (c *Config) validateLimits(add addFunc) {
	pos := func(key string, v int) {
		if v <= 0 {
			add(key, "must be positive, got %d", v)
		}
	}
	pos("limits.body_bytes", c.Limits.BodyBytes)
	pos("limits.json_depth", c.Limits.JSONDepth)
	pos("limits.json_numbers", c.Limits.JSONNumbers)
	pos("limits.token_bytes", c.Limits.TokenBytes)
	pos("limits.max_in_flight", c.Limits.MaxInFlight)
	pos("identity.cache_size", c.Identity.CacheSize)
	pos("dpop.replay_cache_size", c.DPoP.ReplayCacheSize)
	if c.Limits.BodyBytes > 64<<20 {
		add("limits.body_bytes", "at most 64 MiB, got %d", c.Limits.BodyBytes)
	}
	if c.Limits.JSONDepth > 1000 {
		add("limits.json_depth", "at most 1000, got %d", c.Limits.JSONDepth)
	}
	if d := c.Policy.Deadline.D(); d <= 0 || d > 10*time.Second {
		add("policy.deadline", "must be in (0, 10s], got %s", d)
	}
	if n := c.Policy.DecisionCache.Entries(); n < 0 || n > 1<<20 {
		add("policy.decision_cache.size", "must be in [0, %d], got %d", 1<<20, n)
	}
}

// defaultShutdown resolves the shutdown_timeout alias into Shutdown.Timeout
// (a conflict is left for validateTimes) and applies the defaults.
func (c *Config) defaultShutdown() {
	if c.Shutdown.Timeout == 0 {
		c.Shutdown.Timeout = c.ShutdownTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = c.Shutdown.Timeout
	}
	setDur(&c.Shutdown.Timeout, DefaultShutdownTimeout)
	setDur(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.Shutdown.LameDuck == nil {
		d := Duration(DefaultLameDuck)
		c.Shutdown.LameDuck = &d
	}
}

// validateTimes checks the Check deadline margin and the drain durations.
func (c *Config) validateTimes(add addFunc) {
	if d := c.CheckDeadlineMargin.D(); d < 0 || d > time.Second {
		add("check_deadline_margin", "must be in [0, 1s], got %s", d)
	}
	if d := c.Identity.MinRefetchInterval.D(); d < 0 || d > time.Hour {
		add("identity.min_refetch_interval", "must be in (0, 1h], got %s", d)
	}
	if c.ShutdownTimeout != c.Shutdown.Timeout {
		add("shutdown_timeout", "is an alias of shutdown.timeout: got %s and %s; set one", c.ShutdownTimeout.D(), c.Shutdown.Timeout.D())
	}
	if d := c.Shutdown.Timeout.D(); d <= 0 || d > 10*time.Minute {
		add("shutdown.timeout", "must be in (0, 10m], got %s", d)
	}
	if d := c.Shutdown.LameDuckD(); d < 0 || d > 10*time.Minute {
		add("shutdown.lame_duck", "must be in [0, 10m], got %s", d)
	}
}

func (c *Config) validateDrift(add addFunc) {
	for i, d := range c.DriftWatch {
		key := fmt.Sprintf("drift_watch[%d]", i)
		if d.Server == "" {
			add(key+".server", "required")
		}
		if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add(key+".url", "want an http(s) URL, got %q", d.URL)
		}
		if d.Interval.D() < time.Second {
			add(key+".interval", "at least 1s, got %s", d.Interval.D())
		}
	}
}

// validateOperations checks mode and the decision log.
func (c *Config) validateOperations(add addFunc) {
	checkMode(add, "mode", c.Mode)
	for i, h := range c.Resources {
		checkMode(add, fmt.Sprintf("resources[%d].mode", i), h.Mode)
	}
	dl := c.DecisionLog
	switch dl.Output {
	case "", OutputStdout:
	case OutputFile:
		if dl.Path == "" {
			add("decision_log.path", "required for output file")
		}
	case OutputHTTP:
		if u, err := url.Parse(dl.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("decision_log.url", "want an http(s) URL for output http")
		}
	default:
		add("decision_log.output", "must be stdout, file or http, got %q", dl.Output)
	}
	c.validateTracing(add)
	checkTLS(add, "tls", c.TLS.GRPC())
	checkTLS(add, "tls.admin", c.TLS.Admin)
	checkTLS(add, "tls.public", c.TLS.Public)
	if dl.BufferRecords <= 0 || dl.BufferRecords > 1<<20 {
		add("decision_log.buffer_records", "must be in [1, %d], got %d", 1<<20, dl.BufferRecords)
	}
	if d := dl.FlushInterval.D(); d <= 0 || d > maxLogFlushInterval {
		add("decision_log.flush_interval", "must be in (0, %s], got %s", maxLogFlushInterval, d)
	}
}

// maxLogFlushInterval bounds how long a record may wait for its batch.
const maxLogFlushInterval = 10 * time.Second

func (c *Config) validateTracing(add addFunc) {
	tr := c.Tracing
	switch tr.Exporter {
	case "":
		return
	case "otlp_grpc", "otlp_http":
	default:
		add("tracing.exporter", "must be otlp_grpc or otlp_http, got %q", tr.Exporter)
	}
	if u, err := url.Parse(tr.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("tracing.endpoint", "want a collector URL such as http://otel-collector:4317")
	}
	if r := tr.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		add("tracing.sample_ratio", "must be in [0, 1], got %v", *r)
	}
}

func (c *Config) validateBundle(add addFunc) {
	b := c.Bundle
	if b.URL == "" {
		for key, v := range map[string]string{"credentials_file": b.CredentialsFile, "ca_file": b.CAFile, "persist_dir": b.PersistDir} {
			if v != "" {
				add("bundle."+key, "only with bundle.url")
			}
		}
		return
	}
	if b.Path != "" {
		add("bundle.url", "use bundle.path or bundle.url, not both")
	}
	if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		add("bundle.url", "want an http(s) URL without userinfo (credentials go in credentials_file)")
	}
	p := b.Poll
	if p.MinDelay.D() < time.Second || p.MaxDelay.D() < p.MinDelay.D() {
		add("bundle.poll", "want 1s <= min_delay <= max_delay, got %s and %s", p.MinDelay.D(), p.MaxDelay.D())
	}
	if p.LongPollingTimeout.D() != 0 && p.LongPollingTimeout.D() < time.Second {
		add("bundle.poll.long_polling_timeout", "at least 1s (or 0: off), got %s", p.LongPollingTimeout.D())
	}
}

func checkTLS(add addFunc, key string, f TLSFiles) {
	if (f.CertFile == "") != (f.KeyFile == "") {
		add(key, "cert_file and key_file go together")
	}
	if f.ClientCAFile != "" && f.CertFile == "" {
		add(key+".client_ca_file", "needs cert_file and key_file (mTLS is TLS)")
	}
}

func checkMode(add addFunc, key, mode string) {
	if mode != ModeEnforce && mode != ModeShadow {
		add(key, "must be enforce or shadow, got %q", mode)
	}
}

func checkAddr(add addFunc, key, addr string, required bool) {
	if addr == "" {
		if required {
			add(key, "required")
		}
		return
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		add(key, "want host:port, got %q", addr)
	}
}

func originOf(resource string) string {
	u, err := url.Parse(resource)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setDur(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}

// validateNonce checks dpop.nonce: a key file when enabled, and a lifetime
// between 10s and 1h.
func (c *Config) validateNonce(add func(key, format string, a ...any)) {
	n := c.DPoP.Nonce
	if n.Enabled && n.KeyFile == "" {
		add("dpop.nonce.key_file", "required when dpop.nonce.enabled is true")
	}
	if d := n.Lifetime.D(); d < 10*time.Second || d > time.Hour {
		add("dpop.nonce.lifetime", "must be between 10s and 1h, got %v", d)
	}
}

// bundleAlgorithms are the algorithms of OPA's bundle keys (opa/v1/keys)
// without HMAC: a shared secret lets whoever reads it sign a policy.
var bundleAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
}

// validateBundleKeys checks the bundle signature settings statically; the
// key files themselves are read (and refused, naming the key) at start.
func (c *Config) validateBundleKeys(add addFunc) {
	b := c.Bundle
	if !b.Verifies() {
		for key, v := range map[string]string{"verification_algorithm": b.VerificationAlgorithm, "key_id": b.KeyID, "scope": b.Scope} {
			if v != "" {
				add("bundle."+key, "needs bundle.verification_key_file or bundle.keys")
			}
		}
		return
	}
	if b.Path == "" && b.URL == "" {
		add(pick(b.VerificationKeyFile != "", "bundle.verification_key_file", "bundle.keys"),
			"the embedded bundle is not signed: set bundle.path to a signed bundle file")
	}
	checkBundleAlg(add, "bundle.verification_algorithm", b.VerificationAlgorithm)
	if b.VerificationKeyFile != "" {
		if len(b.Keys) > 0 {
			add("bundle.keys", "use bundle.verification_key_file or bundle.keys, not both")
		}
		return
	}
	if b.VerificationAlgorithm != "" {
		add("bundle.verification_algorithm", "only with bundle.verification_key_file (bundle.keys entries have their own algorithm)")
	}
	for _, id := range slices.Sorted(maps.Keys(b.Keys)) {
		k := b.Keys[id]
		if id == "" {
			add("bundle.keys", "a key id may not be empty")
		}
		if k.KeyFile == "" {
			add("bundle.keys."+id+".key_file", "required")
		}
		checkBundleAlg(add, "bundle.keys."+id+".algorithm", k.Algorithm)
	}
	if _, ok := b.Keys[b.KeyID]; b.KeyID != "" && !ok {
		add("bundle.key_id", "%q is not in bundle.keys", b.KeyID)
	}
}

// checkBundleAlg refuses an algorithm bundle signatures cannot use; ""
// (inferred from the key) passes.
func checkBundleAlg(add addFunc, key, alg string) {
	if alg != "" && !bundleAlgorithms[alg] {
		add(key, "%.16q is not allowed: want RS256/384/512, PS256/384/512 or ES256/384/512 (OPA's bundle keys; no HMAC, no EdDSA)", alg)
	}
}

// pick is a if cond, else b.
func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
