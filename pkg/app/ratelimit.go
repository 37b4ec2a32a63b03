package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/identity/dpop"
	"github.com/mcp-authz/mcp-authz/pkg/ratelimit"
	"github.com/mcp-authz/mcp-authz/pkg/telemetry"
	"github.com/mcp-authz/mcp-authz/pkg/tlsreload"
)

// maxCostReportBytes bounds a cost report's body.
const maxCostReportBytes = 4 << 10

// buildLimiter builds the rate limiter of cfg.RateLimits, its metrics and,
// with backend redis, the Redis client it shares with the DPoP replay cache.
func (c *Components) buildLimiter(cfg *config.Config, log *slog.Logger) error {
	rm, err := telemetry.NewRateLimitMetrics(c.Metrics)
	if err != nil {
		return err
	}
	rc := cfg.RateLimits
	lc := ratelimit.Config{
		FallbackLocal: rc.OnBackendError == "local",
		MaxKeys:       rc.MaxKeys,
		Logger:        log,
		Observer:      rm,
		PendingTTL:    rc.CostReportTTL.D(),
	}
	if c.redis != nil {
		lc.Shared = ratelimit.NewRedis(c.redis)
		lc.Pending = ratelimit.NewRedisPending(c.redis)
	}
	c.Limiter = ratelimit.New(lc)
	if rr, ok := c.replay.(*redisReplay); ok {
		rr.observe = rm.ObserveBackendError // before serving: no Add runs yet
	}
	c.serverOpts.Limiter = c.Limiter
	local := c.Limiter.Local()
	return c.Metrics.Register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcp_authz_ratelimit_local_keys",
			Help: "Limit partitions held in the local store."}, func() float64 { return float64(local.Len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcp_authz_ratelimit_local_evictions_total",
			Help: "Local-store entries dropped to make room (never a limited caller)."}, func() float64 { return float64(local.Evictions()) }))
}

// costReport is the body of POST /ratelimit/cost.
type costReport struct {
	// RequestID is the x-request-id of the allowed request.
	RequestID string `json:"request_id"`
	// Cost is the request's whole cost in units, as the upstream measured it.
	Cost *int64 `json:"cost"`
}

// serveCostReport charges a cost an upstream reported after the call ran
// (e.g. from its x-mcp-cost response header) to the budgets the request
// was counted against: 200 {"charged": n}, 404 for an unknown or already
// reported request id, 400 for a bad body, 503 when the backend failed.
func (a *App) serveCostReport(w http.ResponseWriter, r *http.Request) {
	var rep costReport
	dec := json.NewDecoder(io.LimitReader(r.Body, maxCostReportBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil || rep.RequestID == "" || rep.Cost == nil || *rep.Cost < 0 {
		http.Error(w, `want {"request_id": "...", "cost": n} with n >= 0`, http.StatusBadRequest)
		return
	}
	charged, err := a.comp.Limiter.Report(r.Context(), rep.RequestID, *rep.Cost)
	switch {
	case errors.Is(err, ratelimit.ErrUnknownRequest):
		http.Error(w, "no budgets wait for this request id", http.StatusNotFound)
		return
	case err != nil:
		a.log.Warn("cost report failed", "error", err.Error())
		http.Error(w, "cost report failed", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int64{"charged": charged})
}

// newRedisClient builds the one Redis client of rate_limits.redis, shared
// by the limiter, the cost reports and the DPoP replay cache. It does not
// connect: a Redis that is down gives each request the configured
// on_backend_error behaviour, it never stops the service from starting.
func newRedisClient(rc config.Redis) (*redis.Client, error) {
	opts := &redis.Options{
		Addr: rc.Addr, Username: rc.Username, DB: rc.DB,
		DialTimeout: rc.Timeout.D(), ReadTimeout: rc.Timeout.D(), WriteTimeout: rc.Timeout.D(),
		MaxRetries: 1, ContextTimeoutEnabled: true,
	}
	if rc.PasswordFile != "" {
		b, err := os.ReadFile(rc.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("app: rate_limits.redis.password_file: %w", err)
		}
		opts.Password = strings.TrimSpace(string(b))
	}
	if rc.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: rc.TLS.ServerName}
		if rc.TLS.CAFile != "" {
			pool, err := tlsreload.LoadCAPool(rc.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("app: rate_limits.redis.tls.ca_file: %w", err)
			}
			tc.RootCAs = pool
		}
		opts.TLSConfig = tc
	}
	return redis.NewClient(opts), nil
}

// redisReplay is the DPoP replay cache in Redis: SET NX until the proof
// expires, so a proof replayed to any replica is refused. When Redis fails
// the proof is refused (503), or with on_backend_error: local checked
// against this replica's own cache, which also sees every proof.
type redisReplay struct {
	c        *redis.Client
	local    dpop.ReplayStore
	timeout  time.Duration
	useLocal bool
	log      *slog.Logger
	// observe counts a Redis failure with the action taken ("deny" or
	// "local"), like the limiter's; set by buildLimiter before serving.
	observe func(action string)
}

// Add implements dpop.ReplayStore.
func (r *redisReplay) Add(key [sha256.Size]byte, exp, now time.Time) error {
	localErr := r.local.Add(key, exp, now) // a replay to this replica is refused without a round trip
	if localErr != nil {
		return localErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	k := "mcp-authz:jti:" + base64.RawURLEncoding.EncodeToString(key[:])
	ok, err := r.c.SetArgs(ctx, k, 1, redis.SetArgs{Mode: "NX", ExpireAt: exp.Add(time.Second)}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return dpop.ReplayDenial()
	case err != nil:
		action := "deny"
		if r.useLocal {
			action = "local"
		}
		if r.observe != nil {
			r.observe(action)
		}
		r.log.Warn("DPoP replay cache: redis failed", "action", action, "error", err.Error())
		if r.useLocal {
			return nil
		}
		return denial.New(denial.ReplayCacheUnavailable, err)
	case ok != "OK":
		return dpop.ReplayDenial()
	}
	return nil
}
