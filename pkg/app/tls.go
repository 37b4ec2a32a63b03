package app

import (
	"crypto/tls"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/tlsreload"
)

// secure puts TLS on the listeners that configure it: the admin and public
// listeners are wrapped, the gRPC server gets credentials (returned as a
// server option). Certificates reload when their files change.
func (a *App) secure() ([]grpc.ServerOption, error) {
	var opts []grpc.ServerOption
	if f := a.cfg.TLS.GRPC(); f.Enabled() {
		r, err := a.reloader("tls", f)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(r.Config("h2"))))
	}
	for name, f := range map[string]config.TLSFiles{"admin": a.cfg.TLS.Admin, "public": a.cfg.TLS.Public} {
		l := a.lis[name]
		if l == nil || !f.Enabled() {
			continue
		}
		r, err := a.reloader("tls."+name, f)
		if err != nil {
			return nil, err
		}
		a.lis[name] = tls.NewListener(l, r.Config("http/1.1"))
	}
	return opts, nil
}

func (a *App) reloader(key string, f config.TLSFiles) (*tlsreload.Reloader, error) {
	r, err := tlsreload.New(tlsreload.Files{CertFile: f.CertFile, KeyFile: f.KeyFile, ClientCAFile: f.ClientCAFile}, a.log)
	if err != nil {
		return nil, fmt.Errorf("app: %s: %w", key, err)
	}
	return r, nil
}

// closeListeners releases every bound listener (a failed New).
func (a *App) closeListeners() {
	for _, l := range a.lis {
		l.Close()
	}
}
