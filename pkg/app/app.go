// Package app wires mcp-authz together from its configuration: the
// identity verifier, the policy engine and its bundle, the ext_authz gRPC
// server with gRPC health, and the admin and public HTTP listeners. It holds
// no decision logic; it builds components, starts them, and stops them in
// order on shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/extauthz"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/upstream"
)

// The gRPC service names health reports on besides "".
const (
	authzService = "envoy.service.auth.v3.Authorization"
	procService  = "envoy.service.ext_proc.v3.ExternalProcessor"
)

// App is a running mcp-authz.
type App struct {
	cfg      *config.Config
	log      *slog.Logger
	comp     *Components
	grpc     *grpc.Server
	health   *health.Server
	admin    *http.Server
	public   *http.Server
	lis      map[string]net.Listener
	wg       sync.WaitGroup
	serveErr chan error
	stopH    chan struct{}
	healthWG sync.WaitGroup // followReadiness, stopped before health goes NOT_SERVING
	stopOnce sync.Once
	stopErr  error
	draining atomic.Bool // set at the start of shutdown: /readyz answers 503
	opts     options
	reload   reloadState
}

// healthEvery is how often gRPC health follows readiness: a bundle that
// activates, an issuer whose keys arrive or go stale.
const healthEvery = time.Second

// New builds every component and binds the listeners, but serves nothing
// yet: gRPC health is NOT_SERVING until Start has an active bundle.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...Option) (*App, error) {
	comp, err := Build(ctx, cfg, log, opts...)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, comp: comp, lis: map[string]net.Listener{}, serveErr: make(chan error, 3),
		stopH: make(chan struct{}), opts: optionsOf(opts)}
	a.reload.st = ReloadStatus{File: a.opts.configFile, LoadedAt: time.Now()}
	if err := comp.Metrics.Register(a.reloadMetrics()...); err != nil {
		comp.Close()
		return nil, fmt.Errorf("app: metrics: %w", err)
	}
	warnSharedPaths(cfg, log)
	warnUpstreamTokens(cfg, log)
	warnShadow(cfg, log)
	warnAdminListen(cfg, log)
	if err := a.listen(); err != nil {
		comp.Close()
		return nil, err
	}
	gopts, err := a.secure()
	if err != nil {
		a.closeListeners()
		comp.Close()
		return nil, err
	}
	// A CheckRequest carries a request body; a ProcessingRequest a buffered
	// response body: the larger bound, plus room for headers and metadata.
	gopts = append(gopts, grpc.MaxRecvMsgSize(max(cfg.Limits.BodyBytes, cfg.ExtProc.MaxBodyBytes)+1<<20),
		grpc.NumStreamWorkers(streamWorkers()))
	a.grpc = grpc.NewServer(gopts...)
	a.health = health.NewServer()
	a.setServing(false)
	authv3.RegisterAuthorizationServer(a.grpc, comp.Server)
	extprocv3.RegisterExternalProcessorServer(a.grpc, comp.Processor)
	healthpb.RegisterHealthServer(a.grpc, a.health)
	a.admin = &http.Server{Handler: a.adminMux(), ReadHeaderTimeout: 5 * time.Second}
	if l := a.lis["public"]; l != nil {
		a.public = &http.Server{Handler: comp.Metadata, ReadHeaderTimeout: 5 * time.Second}
	}
	return a, nil
}

// streamWorkers is how many goroutines serve gRPC streams. A Check is
// deep (OPA's evaluation recurses): on a fresh goroutine per stream its
// 8 KiB stack is grown copy by copy on every request, which measured about
// a sixth of the server's CPU under load. Workers keep their grown stacks;
// a stream that finds them all busy still gets its own goroutine.
func streamWorkers() uint32 { return uint32(8 * max(runtime.GOMAXPROCS(0), 1)) }

// listen binds every configured address, so a port conflict fails New.
func (a *App) listen() error {
	addrs := map[string]string{"grpc": a.cfg.Listen, "admin": a.cfg.AdminListen, "public": a.cfg.PublicListen}
	for name, addr := range addrs {
		if addr == "" {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range a.lis {
				o.Close()
			}
			return fmt.Errorf("app: %s listener: %w", name, err)
		}
		a.lis[name] = l
	}
	return nil
}

// Addr returns the bound address of "grpc", "admin" or "public" ("" if none).
func (a *App) Addr(name string) string {
	if l := a.lis[name]; l != nil {
		return l.Addr().String()
	}
	return ""
}

// Start serves on every listener and reports SERVING once ready.
func (a *App) Start() {
	a.serve("grpc", func() error { return a.grpc.Serve(a.lis["grpc"]) })
	a.serve("admin", func() error { return a.admin.Serve(a.lis["admin"]) })
	if a.public != nil {
		a.serve("public", func() error { return a.public.Serve(a.lis["public"]) })
	}
	a.comp.Start()
	a.setServing(a.comp.Ready())
	a.healthWG.Add(1)
	go a.followReadiness()
	a.log.Info("mcp-authz serving", "grpc", a.Addr("grpc"), "admin", a.Addr("admin"), "public", a.Addr("public"),
		"tls", a.tlsListeners(), "bundle", a.comp.Engine.Revision(), "issuers", issuerNames(a.comp.Config()))
}

func (a *App) serve(name string, fn func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			a.serveErr <- fmt.Errorf("app: %s: %w", name, err)
		}
	}()
}

// Run starts the app and blocks until ctx is done or a listener fails,
// then shuts down with the configured lame-duck period (RunSignals without
// signals).
func (a *App) Run(ctx context.Context) error { return a.RunSignals(ctx, nil) }

// RunSignals starts the app and blocks until ctx is done, a signal other
// than SIGHUP arrives on sigs (SIGTERM, SIGINT) or a listener fails, then
// drains: health goes NOT_SERVING at once on gRPC health and /readyz,
// Checks keep being answered for shutdown.lame_duck (the time load
// balancers and Envoy's health checker need to see NOT_SERVING), then the
// gRPC listener stops accepting and in-flight Checks drain for at most
// shutdown.timeout. A further signal on sigs during the lame-duck period
// skips its rest. SIGHUP re-reads the configuration file (Reload) and
// never stops the service.
func (a *App) RunSignals(ctx context.Context, sigs <-chan os.Signal) error {
	a.Start()
	reloads, stopReloads := a.sighupRunner(ctx)
	var err error
	for done := false; !done; {
		select {
		case <-ctx.Done():
			a.log.Info("shutting down: context done")
			done = true
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reloads()
				continue
			}
			a.log.Info("shutting down: signal received", "signal", sig.String())
			done = true
		case err = <-a.serveErr:
			done = true
		}
	}
	stopReloads()
	return errors.Join(err, a.stop(a.cfg.Shutdown.LameDuckD(), sigs))
}

// sighupRunner runs each SIGHUP's Reload beside the signal loop, so a reload
// waiting for a new issuer's first key-set fetch never delays a SIGTERM.
// stop cancels a reload in progress and waits for it.
func (a *App) sighupRunner(ctx context.Context) (reload, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	reload = func() {
		wg.Go(func() { _ = a.Reload(ctx) }) // logged, counted and shown by Reload
	}
	stop = func() {
		cancel()
		wg.Wait()
	}
	return reload, stop
}

// tlsListeners names the listeners serving TLS, for the startup line.
func (a *App) tlsListeners() []string {
	out := []string{}
	files := map[string]config.TLSFiles{"grpc": a.cfg.TLS.GRPC(), "admin": a.cfg.TLS.Admin, "public": a.cfg.TLS.Public}
	for _, name := range []string{"grpc", "admin", "public"} {
		if a.lis[name] != nil && files[name].Enabled() {
			out = append(out, name)
		}
	}
	return out
}

// Shutdown stops at once without a lame-duck period (a programmatic stop:
// nothing routes to this instance any more): NOT_SERVING, in-flight
// Checks drain for at most shutdown.timeout, then everything stops.
// Calling it again, or after RunSignals returned, returns the first stop's
// result.
func (a *App) Shutdown() error { return a.stop(0, nil) }

func (a *App) stop(lameDuck time.Duration, skip <-chan os.Signal) error {
	a.stopOnce.Do(func() { a.stopErr = a.shutdown(lameDuck, skip) })
	return a.stopErr
}

func (a *App) shutdown(lameDuck time.Duration, skip <-chan os.Signal) error {
	a.notServing()
	a.lameDuck(lameDuck, skip)
	timeout := a.cfg.Shutdown.Timeout.D()
	done := make(chan struct{})
	go func() { a.grpc.GracefulStop(); close(done) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		a.log.Warn("drain timed out; stopping in-flight checks", "timeout", timeout)
		a.grpc.Stop()
		<-done
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := a.admin.Shutdown(ctx)
	if a.public != nil {
		err = errors.Join(err, a.public.Shutdown(ctx))
	}
	a.wg.Wait()
	a.comp.Close()
	return err
}

// notServing turns every health surface to NOT_SERVING for good: the
// readiness follower is stopped first, so no tick can report SERVING
// again, and /readyz answers 503 from here on.
func (a *App) notServing() {
	a.draining.Store(true)
	close(a.stopH)
	a.healthWG.Wait()
	a.setServing(false)
}

// lameDuck keeps answering Checks for d while health says NOT_SERVING, so
// a load balancer stops sending before the listener closes. A value on
// skip (a second SIGTERM or SIGINT) ends it early.
func (a *App) lameDuck(d time.Duration, skip <-chan os.Signal) {
	if d <= 0 {
		return
	}
	a.log.Info("lame duck: NOT_SERVING, still answering Checks", "lame_duck", d)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case sig := <-skip:
			if sig == syscall.SIGHUP {
				a.log.Info("configuration reload ignored: shutting down")
				continue
			}
			a.log.Info("lame duck skipped: second signal", "signal", sig.String())
			return
		}
	}
}

// followReadiness keeps gRPC health equal to readiness until Shutdown, so
// Envoy's health checks see an issuer whose keys arrive late or go stale.
func (a *App) followReadiness() {
	defer a.healthWG.Done()
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stopH:
			return
		case <-t.C:
			a.setServing(a.comp.Ready())
		}
	}
}

// warnSharedPaths warns when several hops share a path without a
// destination principal: the Host header, which the client chooses, then
// picks among them.
func warnSharedPaths(cfg *config.Config, log *slog.Logger) {
	unpinned := map[string]int{}
	for _, h := range cfg.Resources {
		if h.DestinationPrincipal == "" {
			unpinned[h.Path]++
		}
	}
	for p, n := range unpinned {
		if n > 1 {
			log.Warn("several hops share a path without destination_principal: the client's Host header picks among them; use destination_principal or Envoy context_extensions", "path", p)
		}
	}
}

// warnShadow says loudly which hops answer allow to what they would deny.
func warnShadow(cfg *config.Config, log *slog.Logger) {
	var shadow []string
	for _, h := range cfg.Resources {
		if h.Mode == config.ModeShadow {
			shadow = append(shadow, h.Resource)
		}
	}
	if cfg.Mode == config.ModeShadow || len(shadow) > 0 {
		log.Warn("[SHADOW MODE] policy denies are logged but answered with an allow; only the service's own failures deny",
			"mode", cfg.Mode, "shadow_resources", shadow)
	}
}

func (a *App) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	a.health.SetServingStatus("", st)
	a.health.SetServingStatus(authzService, st)
	a.health.SetServingStatus(procService, st)
}

// Engine returns the policy engine (for tests and reload).
func (a *App) Engine() *policy.Engine { return a.comp.Engine }

// Verifier returns the active configuration's identity verifier.
func (a *App) Verifier() *identity.Verifier { return a.comp.Verifier() }

// SigningKeys returns the minted tokens' key holder (nil without
// token_minting), e.g. to reload rotated key files at once.
func (a *App) SigningKeys() *upstream.Keys { return a.comp.Upstream.keys }

// Server returns the active configuration's ext_authz server.
func (a *App) Server() *extauthz.Server { return a.comp.Server.current().server }
