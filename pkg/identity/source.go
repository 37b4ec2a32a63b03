package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// errRateLimited is returned by an on-demand refresh asked for sooner than
// MinRefetchInterval after the previous one.
var errRateLimited = errors.New("key set refetch rate-limited")

// keySource supplies an issuer's keys.
type keySource interface {
	// current returns the last good key set, or nil; it never blocks.
	current() *keySet
	// refresh fetches anew (rate-limited) and waits for the result at most
	// until ctx is done. Static sources return their set.
	refresh(ctx context.Context) (*keySet, error)
	// kick starts a refresh in the background when one is allowed.
	kick()
	// expires reports whether sets of this source go stale.
	expires() bool
	// status describes the source for IssuerStatus.
	status() sourceStatus
	// close stops the source's goroutines and connections.
	close()
}

// sourceStatus is a source's view for IssuerStatus.
type sourceStatus struct {
	kind      string
	lastError string
}

// fileSource is a key set read once from a file.
type fileSource struct{ ks *keySet }

// newFileSource reads and parses path, at most maxBytes.
func newFileSource(path string, maxBytes int, now time.Time) (*fileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open JWKSFile: %w", err)
	}
	defer f.Close()
	buf, err := readCapped(f, int64(maxBytes))
	if err != nil {
		return nil, fmt.Errorf("read JWKSFile %q: %w", path, err)
	}
	ks, err := parseKeySet(buf, now)
	if err != nil {
		return nil, fmt.Errorf("JWKSFile %q: %w", path, err)
	}
	return &fileSource{ks: ks}, nil
}

func (s *fileSource) current() *keySet                         { return s.ks }
func (s *fileSource) refresh(context.Context) (*keySet, error) { return s.ks, nil }
func (s *fileSource) kick()                                    {}
func (s *fileSource) expires() bool                            { return false }
func (s *fileSource) status() sourceStatus                     { return sourceStatus{kind: "file"} }
func (s *fileSource) close()                                   {}

// flight is one on-demand refresh that callers wait on.
type flight struct {
	done chan struct{}
	err  error
}

// remoteSource is a key set fetched over HTTPS through jwk.Cache, which also
// refreshes it in the background. The last good set and its fetch time (on
// the injected clock) are kept here, so staleness is measured by us and a
// request never blocks on jwk.Cache's internal locks.
type remoteSource struct {
	ic       IssuerConfig
	client   *fetchClient
	cache    *jwk.Cache
	ctx      context.Context
	cancel   context.CancelFunc
	clock    func() time.Time
	log      *slog.Logger
	refetch  time.Duration
	interval time.Duration
	wg       sync.WaitGroup
	state    atomic.Pointer[keySet]

	mu          sync.Mutex
	jwksURL     string // "" until discovery succeeds
	inflight    *flight
	lastAttempt time.Time
	lastErr     error
}

// newRemoteSource builds the HTTP client and jwk.Cache of one issuer. It
// does not fetch; the first refresh does.
func newRemoteSource(ic IssuerConfig, cfg Config) (*remoteSource, error) {
	ctx, cancel := context.WithCancel(context.Background())
	client, err := newFetchClient(ctx, ic, cfg.FetchTimeout, cfg.MaxJWKSBytes)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &remoteSource{
		ic: ic, client: client, ctx: ctx, cancel: cancel,
		clock: cfg.Clock, refetch: cfg.MinRefetchInterval, interval: cfg.JWKSRefresh,
		log:     cfg.Logger.With("issuer", ic.Issuer),
		jwksURL: ic.JWKSURL,
	}
	window := max(time.Second, cfg.JWKSRefresh/4)
	s.cache = jwk.NewCache(ctx, jwk.WithRefreshWindow(window),
		jwk.WithErrSink(jwk.ErrSink(errSinkFunc(s.backgroundError))))
	if s.jwksURL != "" {
		if err := s.register(s.jwksURL); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// errSinkFunc adapts a function to jwk.ErrSink.
type errSinkFunc func(error)

// Error implements jwk.ErrSink.
func (f errSinkFunc) Error(err error) { f(err) }

// register hands u to jwk.Cache with our client and post-fetch hook.
func (s *remoteSource) register(u string) error {
	err := s.cache.Register(u,
		jwk.WithHTTPClient(s.client),
		jwk.WithRefreshInterval(s.interval),
		jwk.WithPostFetcher(jwk.PostFetchFunc(s.postFetch)),
		// One key of a type jwx cannot parse must not take the issuer down;
		// newKeySet still fails when no usable key remains.
		jwk.WithIgnoreParseError(true))
	if err != nil {
		return fmt.Errorf("register JWKS URL: %w", err)
	}
	return nil
}

// postFetch runs inside jwk.Cache after every successful fetch and parse
// (on-demand or background). An unusable set is refused, so jwk.Cache and
// we keep the previous one.
func (s *remoteSource) postFetch(_ string, set jwk.Set) (jwk.Set, error) {
	ks, err := newKeySet(set, s.clock())
	if err != nil {
		return nil, err
	}
	prev := s.state.Swap(ks)
	s.mu.Lock()
	s.lastErr = nil
	s.mu.Unlock()
	if prev == nil || len(prev.all) != len(ks.all) {
		s.log.Info("identity: key set loaded", "keys", len(ks.all))
	}
	return set, nil
}

// backgroundError records a failed background refresh.
func (s *remoteSource) backgroundError(err error) {
	s.recordError(err)
}

func (s *remoteSource) recordError(err error) {
	if err == nil || s.ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	s.log.Warn("identity: key set refresh failed", "error", err)
}

func (s *remoteSource) current() *keySet { return s.state.Load() }
func (s *remoteSource) expires() bool    { return true }

// start begins a refresh unless one runs or the last began less than
// MinRefetchInterval ago. It returns the flight to wait on, or nil.
func (s *remoteSource) start() *flight {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight
	}
	now := s.clock()
	if s.ctx.Err() != nil || (!s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.refetch) {
		return nil
	}
	f := &flight{done: make(chan struct{})}
	s.inflight, s.lastAttempt = f, now
	s.wg.Add(1)
	go s.run(f)
	return f
}

// refresh implements keySource.
func (s *remoteSource) refresh(ctx context.Context) (*keySet, error) {
	f := s.start()
	if f == nil {
		return s.current(), errRateLimited
	}
	select {
	case <-f.done:
		return s.current(), f.err
	case <-ctx.Done():
		return s.current(), fmt.Errorf("waiting for key set: %w", ctx.Err())
	}
}

// kick implements keySource.
func (s *remoteSource) kick() { s.start() }

// run performs one fetch for f (discovery first when needed).
func (s *remoteSource) run(f *flight) {
	defer s.wg.Done()
	err := s.fetch()
	s.recordError(err)
	s.mu.Lock()
	f.err, s.inflight = err, nil
	s.mu.Unlock()
	close(f.done)
}

// fetch resolves the JWKS URL and refreshes it through jwk.Cache.
func (s *remoteSource) fetch() error {
	u, err := s.resolve()
	if err != nil {
		return err
	}
	// jwk.Cache serialises fetches of one URL without honouring ctx while
	// waiting, hence a bound of two fetch timeouts.
	ctx, cancel := context.WithTimeout(s.ctx, 2*s.client.timeout)
	defer cancel()
	if _, err := s.cache.Refresh(ctx, u); err != nil {
		return fmt.Errorf("refresh key set: %w", err)
	}
	return nil
}

// resolve returns the JWKS URL, running discovery and registering the
// result the first time.
func (s *remoteSource) resolve() (string, error) {
	s.mu.Lock()
	u := s.jwksURL
	s.mu.Unlock()
	if u != "" {
		return u, nil
	}
	u, err := discover(s.client, s.ic)
	if err != nil {
		return "", err
	}
	if err := s.register(u); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.jwksURL = u
	s.mu.Unlock()
	s.log.Info("identity: discovered jwks_uri", "jwks_uri", redactURL(u))
	return u, nil
}

// status implements keySource.
func (s *remoteSource) status() sourceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := sourceStatus{kind: "jwks_url"}
	if s.ic.DiscoveryURL != "" {
		st.kind = "discovery"
	}
	if s.lastErr != nil {
		st.lastError = s.lastErr.Error()
	}
	return st
}

// close stops jwk.Cache's goroutines, aborts in-flight requests, waits for
// our own goroutines and drops idle connections.
func (s *remoteSource) close() {
	s.cancel()
	s.wg.Wait()
	s.client.close()
}
