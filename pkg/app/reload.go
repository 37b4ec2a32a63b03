package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/redact"
)

// WithConfigFile names the file the service was started from: SIGHUP
// re-reads it. Without it a SIGHUP is refused (there is nothing to read).
func WithConfigFile(path string) Option {
	return func(o *options) { o.configFile = path }
}

// WithLogLevel is the level of the logger given to New; a reload sets it
// from log_level. Without it a log_level change is refused (restart to
// apply it).
func WithLogLevel(lv *slog.LevelVar) Option {
	return func(o *options) { o.level = lv }
}

// ReloadStatus is the configuration reload state /readyz shows under
// "config".
type ReloadStatus struct {
	// File is the configuration file SIGHUP re-reads ("" for none).
	File string `json:"file"`
	// LoadedAt is when the active configuration was applied (start or
	// the last successful reload).
	LoadedAt time.Time `json:"loaded_at"`
	// Reloads and Refusals count successful and refused reloads.
	Reloads  uint64 `json:"reloads"`
	Refusals uint64 `json:"refusals"`
	// LastReloadAt is the last successful reload (zero: none yet).
	LastReloadAt time.Time `json:"last_reload_at,omitzero"`
	// LastError is why the last refused reload was refused ("" if none),
	// and LastErrorAt when.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// reloadState is the App's reload bookkeeping.
type reloadState struct {
	run sync.Mutex // one reload at a time
	mu  sync.Mutex // guards st
	st  ReloadStatus
}

// status returns a copy of the state.
func (r *reloadState) status() ReloadStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// record counts one reload outcome at now.
func (r *reloadState) record(err error, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.st.Refusals++
		r.st.LastError, r.st.LastErrorAt = redact.ErrorText(err), now
		return
	}
	r.st.Reloads++
	r.st.LoadedAt, r.st.LastReloadAt = now, now
}

// reloadMetrics count reloads and refusals and expose when the active
// configuration was applied.
func (a *App) reloadMetrics() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcp_authz_config_reloads_total",
			Help: "Configuration reloads (SIGHUP) applied."}, func() float64 { return float64(a.reload.status().Reloads) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcp_authz_config_reload_refusals_total",
			Help: "Configuration reloads refused (parse or validation error, or a change that needs a restart); the old configuration kept serving."},
			func() float64 { return float64(a.reload.status().Refusals) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcp_authz_config_last_reload_timestamp_seconds",
			Help: "Unix time the active configuration was applied (start or the last reload)."},
			func() float64 { return float64(a.reload.status().LoadedAt.UnixNano()) / 1e9 }),
	}
}

// Reload re-reads the configuration file and applies it: issuers and their
// key sets, hops, request limits, deny shapes, mode and log level change
// at once for every later Check. A file that does not parse or validate,
// or that changes a key needing a restart, is refused whole and the
// running configuration keeps serving. Every outcome is logged, counted
// and shown in /readyz.
func (a *App) Reload(ctx context.Context) error {
	a.reload.run.Lock()
	defer a.reload.run.Unlock()
	prev := a.comp.Config()
	next, err := a.apply(ctx)
	a.reload.record(err, time.Now())
	if err != nil {
		a.log.Error("configuration reload refused; the running configuration keeps serving",
			"file", a.opts.configFile, redact.Attr("error", err))
		return err
	}
	a.log.Info("configuration reloaded", "file", a.opts.configFile, "changed", config.ChangedKeys(prev, next),
		"issuers", issuerNames(next), "log_level", next.LogLevel)
	warnSharedPaths(next, a.log)
	warnUpstreamTokens(next, a.log)
	warnShadow(next, a.log)
	return nil
}

// apply loads, checks and activates the configuration file.
func (a *App) apply(ctx context.Context) (*config.Config, error) {
	if a.opts.configFile == "" {
		return nil, errors.New("app: no configuration file to re-read")
	}
	if a.draining.Load() {
		return nil, errors.New("app: shutting down")
	}
	next, err := config.Load(a.opts.configFile)
	if err != nil {
		return nil, err
	}
	if err := config.ReloadProblems(a.cfg, next); err != nil {
		return nil, err
	}
	if next.LogLevel != a.comp.Config().LogLevel && a.opts.level == nil {
		return nil, errors.New("log_level: changed, but the logger has no adjustable level (restart to apply it)")
	}
	if err := a.comp.Reload(ctx, next); err != nil {
		return nil, err
	}
	if a.opts.level != nil {
		a.opts.level.Set(LogLevel(next.LogLevel))
	}
	return next, nil
}

// LogLevel is the slog level of a log_level value (info for an unknown
// one; config validation refuses those).
func LogLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// issuerNames lists the configured issuer identifiers (URLs only: never a
// key, file content or secret), for the startup and reload log lines.
func issuerNames(cfg *config.Config) []string {
	out := make([]string, 0, len(cfg.Issuers))
	for _, is := range cfg.Issuers {
		out = append(out, is.Issuer)
	}
	return out
}
