package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/extauthz"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// generation is the part of the decision path one configuration builds and
// a SIGHUP replaces as a unit: the token verifier (issuers and their key
// sets), the ext_authz server over it (hop table, origins, request limits,
// deny shapes, mode) with its upstream token source, and the RFC 9728
// documents. Everything else (the policy engine, the decision log, the
// limiter, the listeners) lives as long as the process.
type generation struct {
	cfg      *config.Config
	verifier *identity.Verifier
	opts     extauthz.Options
	server   *extauthz.Server
	metadata http.Handler
	closers  []func()

	refs    atomic.Int64 // Checks running on it
	retired atomic.Bool  // replaced: close when the last Check ends
	once    sync.Once
}

// close releases the generation's verifier and exchange clients once.
func (g *generation) close() {
	g.once.Do(func() {
		for i := len(g.closers) - 1; i >= 0; i-- {
			g.closers[i]()
		}
	})
}

// release ends one Check's use; the last use of a retired generation
// closes it.
func (g *generation) release() {
	if g.refs.Add(-1) == 0 && g.retired.Load() {
		g.close()
	}
}

// retire marks a replaced generation and closes it when no Check uses it.
func (g *generation) retire() {
	g.retired.Store(true)
	if g.refs.Load() == 0 {
		g.close()
	}
}

// LiveServer is the ext_authz server gRPC serves: each Check runs wholly on
// the generation active when it began (one verifier, one hop table, one
// set of limits), and a reload swaps in the next generation atomically.
type LiveServer struct {
	authv3.UnimplementedAuthorizationServer
	cur atomic.Pointer[generation]
}

var _ authv3.AuthorizationServer = (*LiveServer)(nil)

// Check implements envoy.service.auth.v3.Authorization on the active
// generation.
func (l *LiveServer) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	g := l.acquire()
	defer g.release()
	return g.server.Check(ctx, req)
}

// acquire returns the active generation, counted as in use. A generation
// swapped out between the load and the count is released and the load
// retried, so a retired generation is never handed to a new Check.
func (l *LiveServer) acquire() *generation {
	for {
		g := l.cur.Load()
		g.refs.Add(1)
		if l.cur.Load() == g {
			return g
		}
		g.release()
	}
}

// current returns the active generation (not counted: for status reads).
func (l *LiveServer) current() *generation { return l.cur.Load() }

// swap activates g and retires the generation it replaces.
func (l *LiveServer) swap(g *generation) {
	if old := l.cur.Swap(g); old != nil {
		old.retire()
	}
}

// newGeneration builds cfg's decision-path parts over the process-long
// ones. prev (nil at start) is the generation it replaces: its remote key
// sets are taken over when their settings are unchanged.
func (c *Components) newGeneration(ctx context.Context, cfg *config.Config, prev *generation) (*generation, error) {
	g := &generation{cfg: cfg}
	src, closers, err := newSource(cfg, c.Upstream.minter)
	g.closers = closers
	if err != nil {
		g.close()
		return nil, err
	}
	// The verifier last: once built it owns the key sets it took over
	// from prev, so nothing after it may fail.
	ic := c.identityConfig(cfg, c.log)
	if prev != nil {
		ic.Inherit = prev.verifier
	}
	v, err := identity.New(ctx, ic)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("app: identity: %w", err)
	}
	g.verifier = v
	g.closers = append(g.closers, v.Close)
	g.opts = c.serverOpts
	applyConfigOptions(&g.opts, cfg)
	g.opts.Tokens = src
	if prev == nil {
		g.server = extauthz.New(g.opts, v, c.Engine)
	} else {
		g.server = prev.server.Successor(g.opts, v)
	}
	g.metadata = publicHandler(identity.MetadataHandler(metadataDocs(cfg)), c.Upstream.publisher)
	return g, nil
}

// applyConfigOptions sets the ext_authz options a reload may change.
func applyConfigOptions(o *extauthz.Options, cfg *config.Config) {
	o.Hops = hop.New(hopsOf(cfg))
	o.AllowedOrigins = cfg.AllowedOrigins
	o.Limits = mcp.Limits{MaxBytes: cfg.Limits.BodyBytes, MaxDepth: cfg.Limits.JSONDepth, MaxNumbers: cfg.Limits.JSONNumbers}
	o.PolicyDenyStatus = cfg.PolicyDenyStatus
	o.DenyFormat = cfg.DenyFormat
	o.DeadlineMargin = cfg.CheckDeadlineMargin.D()
	o.Shadow = cfg.Mode == config.ModeShadow
}

// buildGeneration builds and activates the first generation; Close closes
// whichever generation is active then.
func (c *Components) buildGeneration(ctx context.Context, cfg *config.Config) error {
	g, err := c.newGeneration(ctx, cfg, nil)
	if err != nil {
		return err
	}
	c.Server = &LiveServer{}
	c.Server.swap(g)
	c.Metadata = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Server.current().metadata.ServeHTTP(w, r)
	})
	c.closers = append(c.closers, func() { c.Server.current().close() })
	return nil
}

// Reload builds cfg's generation and activates it: Checks already running
// finish on the old one, every later Check runs on the new one. On error
// nothing changes. Callers check config.ReloadProblems first.
func (c *Components) Reload(ctx context.Context, cfg *config.Config) error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	if c.closed {
		return errors.New("app: components closed")
	}
	g, err := c.newGeneration(ctx, cfg, c.Server.current())
	if err != nil {
		return err
	}
	c.Server.swap(g)
	return nil
}

// Verifier returns the active generation's token verifier.
func (c *Components) Verifier() *identity.Verifier { return c.Server.current().verifier }

// Config returns the active configuration (the last one applied).
func (c *Components) Config() *config.Config { return c.Server.current().cfg }
