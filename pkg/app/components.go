package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/connect"
	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
	"github.com/mcp-authz/mcp-authz/pkg/extauthz"
	"github.com/mcp-authz/mcp-authz/pkg/extproc"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/identity/dpop"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/ratelimit"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
	"github.com/mcp-authz/mcp-authz/pkg/telemetry"
)

// Components are the decision path's parts, built from a Config. The
// offline `mcp-authz check` uses them without any listener.
type Components struct {
	// Engine evaluates the policy bundle.
	Engine *policy.Engine
	// Server is the ext_authz server of the active configuration
	// generation (see Reload).
	Server *LiveServer
	// Metadata serves the active generation's RFC 9728 Protected Resource
	// Metadata.
	Metadata http.Handler
	// Processor is the ext_proc server inspecting responses.
	Processor *extproc.Server
	// Metrics are served on the admin listener.
	Metrics *telemetry.Metrics
	// Upstream holds the minter, its keys and the per-hop token source.
	Upstream *upstreamParts
	// DecisionLog is the audit trail (nil when decision_log.output is unset).
	DecisionLog *decisionlog.Logger
	// Connect is the connect feature (nil when no provider is configured).
	Connect    *connect.Service
	connectWeb http.Handler // the browser side of Connect, on the public listener
	bundles    bundleSource
	closers    []func()
	serverOpts extauthz.Options
	watcher    *registry.Watcher
	cfg        *config.Config
	log        *slog.Logger
	// Limiter counts rate limits and budgets; it takes cost reports.
	Limiter *ratelimit.Limiter
	redis   *redis.Client
	nonces  *dpop.NonceSource
	// replay is the DPoP replay store every generation's verifier shares,
	// so a reload never forgets a proof already seen.
	replay   dpop.ReplayStore
	reloadMu sync.Mutex // serialises Reload and Close
	closed   bool
}

// Start starts background work (drift polls); Build alone starts none, so
// the offline check stays offline.
func (c *Components) Start() {
	c.startBundles()
	if c.watcher != nil {
		c.watcher.Start()
	}
	if k := c.Upstream.keys; k != nil {
		c.closers = append(c.closers, k.Watch(c.cfg.TokenMinting.KeyReload.D(), c.log))
	}
}

// checkDriftServers refuses a drift_watch entry naming a server the active
// bundle's registry does not have: its drift would never be checked, and
// nothing would say so.
func checkDriftServers(cfg *config.Config, e *policy.Engine) error {
	if !e.Ready() {
		return nil // a bundle server's first revision is still to come
	}
	for i, d := range cfg.DriftWatch {
		if e.ApprovedHashes(d.Server) == nil {
			return fmt.Errorf("app: drift_watch[%d].server: %q is not a server of the bundle's registry", i, d.Server)
		}
	}
	return nil
}

// newWatcher builds the drift watcher of cfg.DriftWatch.
// A drifted tool is denied (manifest_drift) until its new manifest is
// approved; a failing upstream leaves the last verdict in place.
//
// The watcher is built even without upstreams: it is also the drift state
// the response processor reports live tools/list hashes to, so a tool seen
// drifting in a list is denied on call (manifest_drift) like a polled one.
func newWatcher(cfg *config.Config, log *slog.Logger, approved func(string) map[string]string) (*registry.Watcher, error) {
	var ups []registry.Upstream
	for i, d := range cfg.DriftWatch {
		var token string
		if d.TokenFile != "" {
			b, err := os.ReadFile(d.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("app: drift_watch[%d].token_file: %w", i, err)
			}
			token = strings.TrimSpace(string(b))
		}
		ups = append(ups, registry.Upstream{Server: d.Server, Endpoint: d.URL, BearerToken: token, Interval: d.Interval.D()})
	}
	w, err := registry.NewWatcher(registry.WatcherConfig{Upstreams: ups, Approved: approved, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("app: drift_watch: %w", err)
	}
	return w, nil
}

// NewServer returns an ext_authz server over the active generation's
// verifier and options deciding with d (the offline --explain wraps the
// engine this way).
func (c *Components) NewServer(d extauthz.Decider) *extauthz.Server {
	g := c.Server.current()
	return extauthz.New(g.opts, g.verifier, d)
}

// Build constructs the components and activates the configured bundle.
// Each step may use what the earlier ones built; the first failure closes
// everything built so far.
func Build(ctx context.Context, cfg *config.Config, log *slog.Logger, with ...Option) (*Components, error) {
	c := &Components{cfg: cfg, log: log}
	steps := []func() error{
		func() error { return c.buildUpstreamTokens(cfg) },
		func() error { return c.buildRedis(cfg) },
		func() error { return c.buildIdentity(cfg, log) },
		func() error { return c.buildEngine(ctx, cfg, log) },
		func() error { c.buildServerOptions(cfg, log); return nil },
		func() error { return c.buildOperations(ctx, cfg, log, with) },
		c.registerMetrics,
		func() error { return c.buildConnect(cfg, with) },
		func() error { return c.buildLimiter(cfg, log) },
		func() error { return c.buildGeneration(ctx, cfg) },
		func() error { return c.buildProcessor(cfg, log) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.Metadata = withConnect(c.Metadata, c.connectWeb) // c.Metadata: the active generation's documents
	return c, nil
}

// buildUpstreamTokens builds what allowed requests carry upstream (minted
// or exchanged tokens).
func (c *Components) buildUpstreamTokens(cfg *config.Config) error {
	up, err := buildUpstream(cfg)
	if err != nil {
		return err
	}
	c.Upstream = up
	return nil
}

// buildRedis opens the one Redis client the rate limits (and the shared
// DPoP replay cache) use, when the rate-limit backend is redis.
func (c *Components) buildRedis(cfg *config.Config) error {
	if cfg.RateLimits.Backend != "redis" {
		return nil
	}
	rc, err := newRedisClient(cfg.RateLimits.Redis)
	if err != nil {
		return err
	}
	c.redis = rc
	c.closers = append(c.closers, func() { _ = rc.Close() })
	return nil
}

// buildIdentity builds what every generation's token verifier shares: the
// DPoP nonce source and replay store. The verifier itself is built with
// its generation (buildGeneration).
func (c *Components) buildIdentity(cfg *config.Config, log *slog.Logger) error {
	nonces, err := newNonces(cfg)
	if err != nil {
		return err
	}
	c.nonces = nonces
	c.replay = dpop.NewReplayCache(cfg.DPoP.ReplayCacheSize)
	if c.redis != nil {
		c.replay = &redisReplay{c: c.redis, local: c.replay, timeout: cfg.RateLimits.Redis.Timeout.D(),
			useLocal: cfg.RateLimits.OnBackendError == "local", log: log}
	}
	return nil
}

// buildEngine builds the drift watcher and the policy engine, activates
// the configured bundle and checks that every watched server is in it.
func (c *Components) buildEngine(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	watcher, err := newWatcher(cfg, log, func(server string) map[string]string {
		return c.Engine.ApprovedHashes(server)
	})
	if err != nil {
		return err
	}
	opts := policy.Options{Deadline: cfg.Policy.Deadline.D(), EnableNetwork: cfg.Policy.EnableNetwork, Logger: log,
		ResponseDeadline: cfg.ExtProc.Deadline.D(), Smoke: true, DecisionCache: cfg.Policy.DecisionCache.Entries()}
	if watcher != nil {
		opts.Drift = watcher
		c.closers = append(c.closers, func() { _ = watcher.Close() })
		c.watcher = watcher
	}
	c.Engine = policy.New(opts)
	if err := c.buildBundles(ctx, cfg.Bundle, log); err != nil {
		return err
	}
	return checkDriftServers(cfg, c.Engine)
}

// buildServerOptions sets the ext_authz server's process-long options
// and metrics; each generation adds its own (applyConfigOptions).
func (c *Components) buildServerOptions(cfg *config.Config, log *slog.Logger) {
	c.serverOpts = extauthz.Options{
		MaxInFlight: cfg.Limits.MaxInFlight,
		DPoPAlgs:    dpop.Algorithms(dpopOptions(cfg)),
		DPoPNonces:  nonceIssuer(c.nonces),
		Logger:      log,
	}
	c.Metrics = telemetry.New()
	c.serverOpts.Observer = c.Metrics
}

// registerMetrics adds the collectors that read other components' state
// at scrape time: issuer key status and drift-watch counts.
func (c *Components) registerMetrics() error {
	issuers := telemetry.NewIssuerCollector(func() []telemetry.IssuerState {
		var out []telemetry.IssuerState
		for _, s := range c.Verifier().Status() {
			out = append(out, telemetry.IssuerState{Issuer: s.Issuer, HasKeys: s.HasKeys, Stale: s.Stale,
				SkippedKeys: s.SkippedKeys, RefusedSets: s.RefusedSets})
		}
		return out
	})
	cs := append([]prometheus.Collector{issuers}, c.bundleMetrics()...)
	if c.DecisionLog != nil {
		cs = append(cs, decisionLogMetrics(c.DecisionLog)...)
	}
	if w := c.watcher; w != nil {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcp_authz_manifest_drift_total",
				Help: "Distinct tool manifests seen drifting from their approved hash."}, func() float64 { return float64(w.DriftCount()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcp_authz_drift_poll_failures_total",
				Help: "Drift-watch polls of an upstream that failed."}, func() float64 { return float64(w.PollFailures()) }))
	}
	return c.Metrics.Register(cs...)
}

// Ready reports whether a bundle is active and an issuer has keys.
func (c *Components) Ready() bool { return c.Engine.Ready() && c.Verifier().Ready() }

// Close stops every goroutine the components started. A Reload running
// finishes first; none starts after.
func (c *Components) Close() {
	c.reloadMu.Lock()
	c.closed = true
	c.reloadMu.Unlock()
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// newNonces reads the shared nonce key (nil when nonces are off).
func newNonces(cfg *config.Config) (*dpop.NonceSource, error) {
	n := cfg.DPoP.Nonce
	if !n.Enabled {
		return nil, nil
	}
	key, err := dpop.ReadNonceKey(n.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("app: dpop.nonce.key_file: %w", err)
	}
	s, err := dpop.NewNonceSource(dpop.NonceOptions{Key: key, Lifetime: n.Lifetime.D(), Skew: cfg.Identity.Skew.D()})
	if err != nil {
		return nil, fmt.Errorf("app: dpop.nonce: %w", err)
	}
	return s, nil
}

// nonceIssuer keeps a nil source a nil interface.
func nonceIssuer(s *dpop.NonceSource) extauthz.NonceIssuer {
	if s == nil {
		return nil
	}
	return s
}

func (c *Components) identityConfig(cfg *config.Config, log *slog.Logger) identity.Config {
	ic := identity.Config{
		RolesClaim:         cfg.RolesClaim,
		RolesClaimFormat:   cfg.RolesClaimFormat,
		Skew:               cfg.Identity.Skew.D(),
		MaxTokenBytes:      cfg.Limits.TokenBytes,
		CacheSize:          cfg.Identity.CacheSize,
		JWKSRefresh:        cfg.Identity.JWKSRefresh.D(),
		MaxStaleness:       cfg.Identity.MaxStaleness.D(),
		FetchTimeout:       cfg.Identity.FetchTimeout.D(),
		MinRefetchInterval: cfg.Identity.MinRefetchInterval.D(),
		DPoP:               dpopOptions(cfg),
		Logger:             log,
	}
	ic.DPoP.Replay = c.replay
	ic.DPoP.Nonces = c.nonces
	for _, is := range cfg.Issuers {
		ic.Issuers = append(ic.Issuers, identity.IssuerConfig{
			Issuer: is.Issuer, JWKSFile: is.JWKSFile, JWKSURL: is.JWKSURL, DiscoveryURL: is.DiscoveryURL,
			CAFile: is.CAFile, InsecureHTTP: is.InsecureHTTP, Algorithms: is.Algorithms,
			RequireTyp: is.RequireTyp, RequireDPoP: is.RequireDPoP,
			RequireClaims: is.RequireClaims, AllowMultiAudience: is.AllowMultiAudience, KIDOptional: is.KIDOptional,
			DPoP: identity.IssuerDPoP{IgnoreProofWithBearer: is.DPoP.IgnoreProofWithBearer},
		})
	}
	return ic
}

func dpopOptions(cfg *config.Config) dpop.Options {
	return dpop.Options{
		Algorithms:      cfg.DPoP.Algorithms,
		IATWindow:       cfg.DPoP.IATWindow.D(),
		ReplayCacheSize: cfg.DPoP.ReplayCacheSize,
	}
}

func hopsOf(cfg *config.Config) []hop.Hop {
	out := make([]hop.Hop, 0, len(cfg.Resources))
	for _, r := range cfg.Resources {
		out = append(out, hop.Hop{Host: r.Host, Path: r.Path, Resource: r.Resource, PublicOrigin: r.PublicOrigin,
			Server: r.Server, DestinationPrincipal: r.DestinationPrincipal, Shadow: r.Mode == config.ModeShadow})
	}
	return out
}

func metadataDocs(cfg *config.Config) []identity.ResourceMetadata {
	var issuers []string
	for _, is := range cfg.Issuers {
		issuers = append(issuers, is.Issuer)
	}
	out := make([]identity.ResourceMetadata, 0, len(cfg.Resources))
	for _, r := range cfg.Resources {
		as := r.AuthorizationServers
		if len(as) == 0 {
			as = issuers
		}
		out = append(out, identity.ResourceMetadata{
			Resource: r.Resource, PublicOrigin: r.PublicOrigin, AuthorizationServers: as, ScopesSupported: r.ScopesSupported,
		})
	}
	return out
}

// adminMux serves /healthz (the process is up) and /readyz (a bundle is
// active, at least one issuer has keys and no shutdown has begun), with
// per-issuer detail.
func (a *App) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", a.comp.Metrics.Handler())
	mux.HandleFunc("POST /ratelimit/cost", a.serveCostReport)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		draining := a.draining.Load()
		ready := !draining && a.comp.Ready()
		body := map[string]any{
			"ready": ready, "draining": draining, "bundle_revision": a.comp.Engine.Revision(), "issuers": a.comp.Verifier().Status(),
			"bundle": a.comp.BundleStatus(), "config": a.reload.status(),
		}
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	if a.cfg.Pprof {
		mountPprof(mux)
	}
	a.mountConnectAdmin(mux)
	return mux
}

// mountPprof serves net/http/pprof under /debug/pprof/ (opt-in: config
// pprof). The handlers are mounted on our own mux, never on
// http.DefaultServeMux, so no other listener can expose them.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// buildProcessor builds the ext_proc server over the same engine and the
// drift state the watcher keeps, with its outcome counter.
func (c *Components) buildProcessor(cfg *config.Config, log *slog.Logger) error {
	responses := telemetry.NewResponses()
	if err := c.Metrics.Register(responses); err != nil {
		return fmt.Errorf("app: metrics: %w", err)
	}
	opts := extproc.Options{MaxBodyBytes: cfg.ExtProc.MaxBodyBytes,
		MaxOutputBytes: cfg.ExtProc.MaxOutputBytes, Logger: log, Observer: responses}
	if c.Connect != nil { // upstream refusals mark injected credentials stale
		opts.Connections = c.Connect
	}
	c.Processor = extproc.New(opts, c.Engine, c.watcher)
	return nil
}
