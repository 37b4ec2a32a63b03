package app

import (
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
