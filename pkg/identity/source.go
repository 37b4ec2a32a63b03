package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
	"github.com/mcp-authz/mcp-authz/pkg/redact"
)

// errRateLimited is returned by an on-demand refresh asked for sooner than
// MinRefetchInterval after the previous one.
var errRateLimited = errors.New("key set refetch rate-limited")

// keySource supplies an issuer's keys.
type keySource interface {
	// current returns the last good key set, or nil; it never blocks.
	current() *keySet
	// refresh fetches anew (rate-limited) and waits for the result at most
	// until ctx is done; the fetch itself goes on and serves later calls.
	// Static sources return their set.
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
	kind        string
	lastError   string
	skippedKeys uint64
	refused     map[string]uint64
}

// Reasons a fetched key set is refused as a whole (the refused-sets
// metric's label).
const (
	refusedPrivate  = "private_material"
	refusedNoKey    = "no_usable_key"
	refusedMalformd = "malformed"
)

// refusalReason classifies a keyset.Parse error.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, keyset.ErrPrivateMaterial):
		return refusedPrivate
	case errors.Is(err, keyset.ErrNoUsableKey):
		return refusedNoKey
	}
	return refusedMalformd
}

// skipLog logs and counts each skipped key once (by kid and reason), so a
// stale key at an IdP is one line, not one per refresh.
type skipLog struct {
	mu    sync.Mutex
	seen  map[string]bool
	count uint64
}

// report logs the skipped keys not seen before.
func (l *skipLog) report(log *slog.Logger, skipped []keyset.Skipped) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	for _, s := range skipped {
		id := s.KID + "\x00" + s.Reason
		if l.seen[id] {
			continue
		}
		l.seen[id] = true
		l.count++
		log.Warn("identity: key skipped: it cannot verify tokens", "kid", s.KID, "index", s.Index, "reason", s.Reason, "detail", s.Detail)
	}
}

func (l *skipLog) total() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// fileSource is a key set read once from a file.
type fileSource struct {
	ks    *keySet
	skips skipLog
}

// newFileSource reads and checks path (at most maxBytes) with keyset.Parse.
func newFileSource(path string, maxBytes int, now time.Time, log *slog.Logger) (*fileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open JWKSFile: %w", err)
	}
	defer f.Close()
	buf, err := readCapped(f, int64(maxBytes))
	if err != nil {
		return nil, fmt.Errorf("read JWKSFile %q: %w", path, err)
	}
	set, err := keyset.Parse(buf)
	if err != nil {
		return nil, fmt.Errorf("JWKSFile %q: %w", path, err)
	}
	s := &fileSource{ks: newKeySet(set, now)}
	s.skips.report(log, set.Skipped)
	return s, nil
}

func (s *fileSource) current() *keySet                         { return s.ks }
func (s *fileSource) refresh(context.Context) (*keySet, error) { return s.ks, nil }
func (s *fileSource) kick()                                    {}
func (s *fileSource) expires() bool                            { return false }
func (s *fileSource) close()                                   {}
func (s *fileSource) status() sourceStatus {
	return sourceStatus{kind: "file", skippedKeys: s.skips.total()}
}

// flight is one on-demand refresh that callers wait on.
type flight struct {
	done chan struct{}
	err  error
}

// remoteSource is a key set fetched over HTTPS, refreshed in the background
// every JWKSRefresh and on demand (unknown kid, stale set), rate-limited by
// MinRefetchInterval. The last good set and its fetch time (on the injected
// clock) are kept here; a request never waits on anything but a flight's
// done channel and its own context.
type remoteSource struct {
	ic       IssuerConfig
	client   *fetchClient
	ctx      context.Context
	cancel   context.CancelFunc
	clock    func() time.Time
	log      *slog.Logger
	refetch  time.Duration
	interval time.Duration
	wg       sync.WaitGroup
	state    atomic.Pointer[keySet]
	skips    skipLog

	mu          sync.Mutex
	jwksURL     string // "" until discovery succeeds
	inflight    *flight
	lastAttempt time.Time
	lastErr     error
	refused     map[string]uint64
}

// newRemoteSource builds the HTTP client of one issuer and starts its
// background refresh. It does not fetch; the first refresh does.
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
		jwksURL: ic.JWKSURL, refused: map[string]uint64{},
	}
	s.wg.Add(1)
	go s.background()
	return s, nil
}

// background keeps the set fresh without traffic, so it rotates and
// /readyz stays true: it refreshes a set older than JWKSRefresh, and
// retries every MinRefetchInterval while there is no set at all (an IdP
// down at start). Its fetches are not rate-limited; they never overlap.
func (s *remoteSource) background() {
	defer s.wg.Done()
	t := time.NewTicker(min(s.interval, s.refetch))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if ks := s.current(); ks == nil || s.clock().Sub(ks.fetchedAt) >= s.interval {
				s.begin(true)
			}
		}
	}
}

func (s *remoteSource) current() *keySet { return s.state.Load() }
func (s *remoteSource) expires() bool    { return true }

// start begins an on-demand refresh unless one runs or the last began
// less than MinRefetchInterval ago. It returns the flight to wait on, or
// nil.
func (s *remoteSource) start() *flight { return s.begin(false) }

// begin is start; force skips the rate limit (background refreshes).
func (s *remoteSource) begin(force bool) *flight {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight
	}
	now := s.clock()
	if s.ctx.Err() != nil || (!force && !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.refetch) {
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
	s.mu.Lock()
	if s.ctx.Err() == nil {
		s.lastErr = err
	}
	f.err, s.inflight = err, nil
	s.mu.Unlock()
	if err != nil && s.ctx.Err() == nil {
		s.log.Warn("identity: key set refresh failed; the last good set keeps serving within max_staleness", redact.Attr("error", err))
	}
	close(f.done)
}

// fetch resolves the JWKS URL, fetches it and, when keyset.Parse accepts
// it, makes it the current set. A refused set leaves the last good one.
func (s *remoteSource) fetch() error {
	u, err := s.resolve()
	if err != nil {
		return err
	}
	res, err := s.client.Get(u)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", redact.URL(u), res.StatusCode)
	}
	body, err := readCapped(res.Body, s.client.maxBytes)
	if err != nil {
		return fmt.Errorf("GET %s: %w", redact.URL(u), err)
	}
	set, err := keyset.Parse(body)
	if err != nil {
		s.refuse(err)
		return fmt.Errorf("key set from %s refused: %w", redact.URL(u), err)
	}
	s.skips.report(s.log, set.Skipped)
	ks := newKeySet(set, s.clock())
	if prev := s.state.Swap(ks); prev == nil || len(prev.all) != len(ks.all) {
		s.log.Info("identity: key set loaded", "keys", len(ks.all), "skipped", len(set.Skipped))
	}
	return nil
}

// refuse counts a refused set; one that publishes private keys is also
// logged as an error on its own: the endpoint is misconfigured or
// compromised, not merely down.
func (s *remoteSource) refuse(err error) {
	reason := refusalReason(err)
	s.mu.Lock()
	s.refused[reason]++
	s.mu.Unlock()
	if reason == refusedPrivate {
		s.log.Error("identity: key set refused: it publishes private key material, so anyone who read it can forge tokens; fix the endpoint",
			redact.Attr("error", err))
	}
}

// resolve returns the JWKS URL, running discovery the first time.
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
	s.mu.Lock()
	s.jwksURL = u
	s.mu.Unlock()
	s.log.Info("identity: discovered jwks_uri", "jwks_uri", redact.URL(u))
	return u, nil
}

// status implements keySource.
func (s *remoteSource) status() sourceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := sourceStatus{kind: "jwks_url", skippedKeys: s.skips.total(), refused: map[string]uint64{}}
	if s.ic.DiscoveryURL != "" {
		st.kind = "discovery"
	}
	st.lastError = redact.ErrorText(s.lastErr)
	for k, v := range s.refused {
		st.refused[k] = v
	}
	return st
}

// close stops the background refresh, aborts in-flight requests, waits for
// our goroutines and drops idle connections.
func (s *remoteSource) close() {
	s.cancel()
	s.wg.Wait()
	s.client.close()
}
