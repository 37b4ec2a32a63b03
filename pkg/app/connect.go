package app

import (
	"encoding/json"
	"net/http"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/connect"
	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// buildConnect opens the credential store and the connect service when
// providers are configured; the store closes with the components.
func (c *Components) buildConnect(cfg *config.Config) error {
	if !cfg.ConnectEnabled() {
		return nil
	}
	store, err := credstore.Open(cfg.Connect)
	if err != nil {
		return err
	}
	c.closers = append(c.closers, func() { _ = store.Close() })
	svc, err := connect.New(cfg, store, nil)
	if err != nil {
		return err
	}
	c.Connect = svc
	c.serverOpts.Connections = svc
	return nil
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
