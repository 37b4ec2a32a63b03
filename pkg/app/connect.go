package app

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/connect"
	"github.com/mcp-authz/mcp-authz/pkg/credstore"
	"github.com/mcp-authz/mcp-authz/pkg/telemetry"
)

// WithConnectClock gives the connect flow a clock (elicitation, flow and
// session expiry); tests use it to expire links without waiting.
func WithConnectClock(now func() time.Time) Option {
	return func(o *options) { o.connectClock = now }
}

// buildConnect opens the credential store and the connect service when
// providers are configured, with its browser pages and their counter; the
// store closes with the components.
func (c *Components) buildConnect(cfg *config.Config, with []Option) error {
	if !cfg.ConnectEnabled() {
		return nil
	}
	o := optionsOf(with)
	store, err := credstore.Open(cfg.Connect)
	if err != nil {
		return err
	}
	c.closers = append(c.closers, func() { _ = store.Close() })
	svc, err := connect.New(cfg, store, o.connectClock)
	if err != nil {
		return err
	}
	flows := telemetry.NewConnectFlow()
	if err := c.Metrics.Register(flows); err != nil {
		return err
	}
	web, err := svc.Handler(connect.HandlerOptions{Log: c.log, Observe: flows.Observe})
	if err != nil {
		return err
	}
	warnConnect(cfg, c.log)
	c.Connect, c.connectWeb = svc, web
	c.serverOpts.Connections = svc
	return nil
}

// withConnect serves the connect pages under /connect/ beside the public
// documents (RFC 9728 metadata, minted tokens' JWKS).
func withConnect(public, web http.Handler) http.Handler {
	if web == nil {
		return public
	}
	mux := http.NewServeMux()
	mux.Handle(connect.PathPrefix, web)
	mux.Handle("/", public)
	return mux
}

// Connect returns the connect service (nil when no provider is configured).
func (a *App) Connect() *connect.Service { return a.comp.Connect }

// mountConnectAdmin adds the operators' revocation to the admin listener:
// DELETE /connections?iss=…&sub=… removes every credential of that user.
func (a *App) mountConnectAdmin(mux *http.ServeMux) {
	svc := a.comp.Connect
	if svc == nil {
		return
	}
	mux.HandleFunc("DELETE /connections", func(w http.ResponseWriter, r *http.Request) {
		iss, sub := r.URL.Query().Get("iss"), r.URL.Query().Get("sub")
		if iss == "" || sub == "" {
			http.Error(w, "iss and sub are required", http.StatusBadRequest)
			return
		}
		n, err := svc.Store().RevokeSubject(r.Context(), iss, sub)
		if err != nil {
			a.log.Warn("connect: revoke by subject failed", "error", err)
			http.Error(w, "credential store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"revoked": n})
	})
}
