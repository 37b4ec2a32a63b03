package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Rate-limit defaults.
const (
	DefaultRateLimitBackend   = "local"
	DefaultOnBackendError     = "deny"
	DefaultRateLimitKeys      = 100_000
	DefaultRedisTimeout       = 100 * time.Millisecond
	DefaultCostReportTTL      = 15 * time.Minute
	maxRateLimitKeys          = 10_000_000
	maxCostReportTTL          = 24 * time.Hour
	maxRedisTimeout           = 10 * time.Second
	rateLimitBackendLocal     = "local"
	rateLimitBackendRedis     = "redis"
	onBackendErrorDeny        = "deny"
	onBackendErrorLocalLimits = "local"
)

// RateLimits says where the rate limits and budgets a decision names are
// counted. The limits themselves are policy data (data.mcp.rate_limits).
type RateLimits struct {
	// Backend is local (in process: each replica counts alone) or redis
	// (every replica shares one count; the DPoP jti replay cache is shared too).
	Backend string `json:"backend"`
	// Redis is the shared backend, with backend: redis.
	Redis Redis `json:"redis"`
	// OnBackendError is what a request gets when Redis fails: deny (503
	// rate_limit_unavailable, fail closed) or local (this replica's own count).
	OnBackendError string `json:"on_backend_error"`
	// MaxKeys bounds the local store (limit partitions held in memory).
	MaxKeys int `json:"max_keys"`
	// CostReportTTL is how long an allowed request's budgets wait for a
	// cost report on the admin listener.
	CostReportTTL Duration `json:"cost_report_ttl"`
}

// Redis is a Redis server reached over TCP.
type Redis struct {
	// Addr is host:port.
	Addr string `json:"addr"`
	// Username for Redis ACLs (optional).
	Username string `json:"username"`
	// PasswordFile holds the password (never inline in the config).
	PasswordFile string `json:"password_file"`
	// TLS is true or {enabled, ca_file, server_name}.
	TLS RedisTLS `json:"tls"`
	// DB is the database number.
	DB int `json:"db"`
	// Timeout bounds one round trip; keep it well below Envoy's ext_authz timeout.
	Timeout Duration `json:"timeout"`
}

// RedisTLS configures TLS to Redis; `tls: true` enables it with the
// system roots.
type RedisTLS struct {
	// Enabled turns TLS on.
	Enabled bool `json:"enabled"`
	// CAFile is a PEM bundle trusted instead of the system roots.
	CAFile string `json:"ca_file"`
	// ServerName overrides the name verified in the server certificate.
	ServerName string `json:"server_name"`
}

// UnmarshalJSON accepts a boolean or an object.
func (t *RedisTLS) UnmarshalJSON(b []byte) error {
	var on bool
	if err := json.Unmarshal(b, &on); err == nil {
		*t = RedisTLS{Enabled: on}
		return nil
	}
	type plain RedisTLS
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("want true, false or {enabled, ca_file, server_name}")
	}
	*t = RedisTLS(p)
	return nil
}

func (r *RateLimits) applyDefaults() {
	setStr(&r.Backend, DefaultRateLimitBackend)
	setStr(&r.OnBackendError, DefaultOnBackendError)
	setInt(&r.MaxKeys, DefaultRateLimitKeys)
	setDur(&r.CostReportTTL, DefaultCostReportTTL)
	setDur(&r.Redis.Timeout, DefaultRedisTimeout)
}

func (r *RateLimits) validate(add addFunc) {
	switch r.Backend {
	case rateLimitBackendLocal:
		if r.Redis.Addr != "" {
			add("rate_limits.redis.addr", "set, but rate_limits.backend is local")
		}
	case rateLimitBackendRedis:
		checkAddr(add, "rate_limits.redis.addr", r.Redis.Addr, true)
	default:
		add("rate_limits.backend", "must be local or redis, got %q", r.Backend)
	}
	if r.OnBackendError != onBackendErrorDeny && r.OnBackendError != onBackendErrorLocalLimits {
		add("rate_limits.on_backend_error", "must be deny or local, got %q", r.OnBackendError)
	}
	if r.MaxKeys <= 0 || r.MaxKeys > maxRateLimitKeys {
		add("rate_limits.max_keys", "must be in [1, %d], got %d", maxRateLimitKeys, r.MaxKeys)
	}
	if d := r.CostReportTTL.D(); d <= 0 || d > maxCostReportTTL {
		add("rate_limits.cost_report_ttl", "must be in (0, 24h], got %s", d)
	}
	if d := r.Redis.Timeout.D(); d <= 0 || d > maxRedisTimeout {
		add("rate_limits.redis.timeout", "must be in (0, 10s], got %s", d)
	}
	if (r.Redis.TLS.CAFile != "" || r.Redis.TLS.ServerName != "") && !r.Redis.TLS.Enabled {
		add("rate_limits.redis.tls", "ca_file or server_name set without enabled: true")
	}
}
