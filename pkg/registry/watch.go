package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/redact"
)

// MinPollInterval is the shortest Upstream.Interval accepted.
const MinPollInterval = time.Second

// Upstream is one live MCP server the Watcher polls.
type Upstream struct {
	// Server is the registry name of the server.
	Server string
	// Endpoint is the server's Streamable HTTP URL.
	Endpoint string
	// BearerToken is sent as "Authorization: Bearer <token>" when not empty.
	BearerToken string
	// Interval is the time between polls (at least MinPollInterval).
	Interval time.Duration
}

// WatcherConfig configures NewWatcher.
type WatcherConfig struct {
	// Upstreams are the servers to poll.
	Upstreams []Upstream
	// Approved returns tool name -> approved content hash for a server, from the
	// current registry, e.g. func(s string) map[string]string { return
	// current().ApprovedHashes(s) }. It is used only to log and count
	// drift; nil disables both (Drifted still works).
	Approved func(server string) map[string]string
	// Fetch lists a server's live tools; nil means FetchTools with
	// FetchOptions.
	Fetch func(ctx context.Context, endpoint, bearerToken string) (map[string]map[string]any, error)
	// FetchOptions are passed to FetchTools when Fetch is nil.
	FetchOptions FetchOptions
	// After returns a channel that delivers once d has passed; nil means
	// time.After. Tests inject it to drive polls deterministically.
	After func(d time.Duration) <-chan time.Time
	// Logger receives drift and poll-failure logs (nil means slog.Default()).
	Logger *slog.Logger
}

// Watcher polls upstream MCP servers and remembers the hash of every tool
// each last listed. It implements DriftSource: an approved tool has drifted
// when its server is watched but was never listed successfully (unverified),
// when the last successful poll of its server saw a different hash or did
// not see the tool at all. A failed poll changes nothing. Start runs the
// polling goroutines; Close stops them.
type Watcher struct {
	cfg     WatcherConfig
	log     *slog.Logger
	state   atomic.Pointer[watchState]
	watched map[string]bool // servers with an upstream to poll

	mu       sync.Mutex        // serialises state writers and reported
	reported map[string]string // tool id -> drift already counted

	drifts   atomic.Uint64
	failures atomic.Uint64

	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

// watchState is an immutable snapshot of what the polls saw.
type watchState struct {
	polled map[string]bool   // servers with a successful poll
	live   map[string]string // tool id -> live hash
}

var (
	_ DriftSource    = (*Watcher)(nil)
	_ DriftExplainer = (*Watcher)(nil)
)

// NewWatcher checks cfg and returns a Watcher that has not polled yet.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if err := validateUpstreams(cfg.Upstreams); err != nil {
		return nil, fmt.Errorf("registry: watcher: %w", err)
	}
	if cfg.Fetch == nil {
		opts := cfg.FetchOptions
		cfg.Fetch = func(ctx context.Context, endpoint, token string) (map[string]map[string]any, error) {
			return FetchTools(ctx, endpoint, token, opts)
		}
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger, reported: map[string]string{}, done: make(chan struct{})}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.state.Store(&watchState{polled: map[string]bool{}, live: map[string]string{}})
	w.watched = make(map[string]bool, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		w.watched[u.Server] = true
	}
	return w, nil
}

func validateUpstreams(ups []Upstream) error {
	var errs []error
	seen := map[string]bool{}
	for i, u := range ups {
		at := fmt.Sprintf("upstreams[%d]", i)
		if u.Server == "" || strings.Contains(u.Server, "/") || seen[u.Server] {
			errs = append(errs, fmt.Errorf("%s.server: want a unique non-empty name without '/'", at))
		}
		seen[u.Server] = true
		if p, err := url.Parse(u.Endpoint); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s.endpoint: want an absolute http(s) URL", at))
		}
		if u.Interval < MinPollInterval {
			errs = append(errs, fmt.Errorf("%s.interval: %v is shorter than %v", at, u.Interval, MinPollInterval))
		}
	}
	return errors.Join(errs...)
}

// Drifted implements DriftSource.
func (w *Watcher) Drifted(id, approvedHash string) bool {
	server, _, ok := splitID(id)
	if !ok || approvedHash == "" {
		return false
	}
	s := w.state.Load()
	if !w.watched[server] {
		// Not polled: only what a response processor saw counts.
		live, seen := s.live[id]
		return seen && live != approvedHash
	}
	if !s.polled[server] {
		// Watched but never listed successfully: the manifest is unverified,
		// and every doubt is a deny. The first poll runs at Start.
		return true
	}
	live, seen := s.live[id]
	return !seen || live != approvedHash
}

// DriftReason implements DriftExplainer: "" when the tool has not drifted,
// else DriftUnverified, DriftRemoved, DriftContentHashMismatch or
// DriftChanged.
func (w *Watcher) DriftReason(id, approvedHash string) string {
	if !w.Drifted(id, approvedHash) {
		return ""
	}
	server, _, _ := splitID(id)
	s := w.state.Load()
	live, seen := s.live[id]
	switch {
	case !s.polled[server]:
		return DriftUnverified
	case !seen:
		return DriftRemoved
	case live == DriftContentHashMismatch:
		return DriftContentHashMismatch
	}
	return DriftChanged
}

// DriftCount is the number of drifts observed: each approved tool counts
// once per distinct (approved hash, live hash or removal) it drifted to.
func (w *Watcher) DriftCount() uint64 { return w.drifts.Load() }

// PollFailures is the number of polls that failed.
func (w *Watcher) PollFailures() uint64 { return w.failures.Load() }

// PollOnce polls every upstream once, in order, and returns the failures
// joined.
func (w *Watcher) PollOnce(ctx context.Context) error {
	var errs []error
	for _, u := range w.cfg.Upstreams {
		errs = append(errs, w.poll(ctx, u))
	}
	return errors.Join(errs...)
}

// Start runs one polling goroutine per upstream: each polls at once and
// then every Interval, until Close. Calling Start again does nothing.
func (w *Watcher) Start() {
	w.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		w.cancel = cancel
		go func() {
			defer close(w.done)
			w.Run(ctx)
		}()
	})
}

// Run polls every upstream on its interval until ctx is done (Start runs
// it in the background; Run is for callers that manage the goroutine).
func (w *Watcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, u := range w.cfg.Upstreams {
		wg.Go(func() { w.loop(ctx, u) })
	}
	wg.Wait()
}

// Close stops the goroutines Start began and waits for them.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		w.startOnce.Do(func() { close(w.done) }) // never started
		if w.cancel != nil {
			w.cancel()
		}
		<-w.done
	})
	return nil
}

func (w *Watcher) loop(ctx context.Context, u Upstream) {
	for {
		_ = w.poll(ctx, u) // logged and counted in poll
		select {
		case <-ctx.Done():
			return
		case <-w.cfg.After(u.Interval):
		}
	}
}

// poll fetches one upstream and records what it saw.
func (w *Watcher) poll(ctx context.Context, u Upstream) error {
	live, err := w.cfg.Fetch(ctx, u.Endpoint, u.BearerToken)
	if err != nil {
		if ctx.Err() == nil {
			w.failures.Add(1)
			w.log.Warn("registry: drift poll failed; keeping the last verdict", "server", u.Server, redact.Attr("error", err))
		}
		return fmt.Errorf("registry: polling %s: %w", u.Server, err)
	}
	hashes := make(map[string]string, len(live))
	for name, def := range live {
		hashes[name] = liveHash(def)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record(u.Server, hashes)
	w.report(u.Server, hashes)
	return nil
}

// liveHash is what drift watch remembers of a live definition: its content
// hash, or DriftContentHashMismatch when it advertises a contentHash that
// is not its own (drift whatever the pin says), or "unhashable".
func liveHash(def map[string]any) string {
	h, err := ContentHash(def)
	if err != nil {
		return "unhashable"
	}
	if bad, _ := AdvertisedMismatch(def); bad {
		return DriftContentHashMismatch
	}
	return h
}

// record replaces the server's part of the state (w.mu held).
func (w *Watcher) record(server string, hashes map[string]string) {
	old := w.state.Load()
	next := &watchState{polled: maps.Clone(old.polled), live: make(map[string]string, len(old.live))}
	prefix := server + "/"
	for id, h := range old.live {
		if !strings.HasPrefix(id, prefix) {
			next.live[id] = h
		}
	}
	for name, h := range hashes {
		next.live[prefix+name] = h
	}
	next.polled[server] = true
	w.state.Store(next)
}

// report logs and counts newly seen drift of approved tools (w.mu held).
func (w *Watcher) report(server string, hashes map[string]string) {
	if w.cfg.Approved == nil {
		return
	}
	approved := w.cfg.Approved(server)
	for _, name := range slices.Sorted(maps.Keys(approved)) {
		live, seen := hashes[name]
		if !seen {
			live = "removed"
		}
		w.noteDrift(server+"/"+name, approved[name], live)
	}
}

// Observe records live tool hashes (tool name → hash) of server that a
// response processor saw in a tools/list passing through, and reports new
// drift of approved tools exactly as a poll does (same log line, same
// counter). Unlike a poll it merges: a tool not in live (another page, a
// list filtered for another caller) keeps its last state. A drift clears
// when a later poll or list shows the approved hash again.
func (w *Watcher) Observe(server string, live map[string]string) {
	if len(live) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.state.Load()
	next := &watchState{polled: old.polled, live: maps.Clone(old.live)}
	prefix := server + "/"
	for name, h := range live {
		next.live[prefix+name] = h
	}
	w.state.Store(next)
	w.reportSeen(server, live)
}

// reportSeen logs and counts newly seen drift of the approved tools in
// live (w.mu held); tools absent from live are not judged.
func (w *Watcher) reportSeen(server string, live map[string]string) {
	if w.cfg.Approved == nil {
		return
	}
	approved := w.cfg.Approved(server)
	for _, name := range slices.Sorted(maps.Keys(live)) {
		want, ok := approved[name]
		if !ok {
			continue
		}
		w.noteDrift(server+"/"+name, want, live[name])
	}
}

// noteDrift updates the reported state of one tool (w.mu held): a match
// clears it, a new (approved, live) pair is logged and counted once.
func (w *Watcher) noteDrift(id, want, live string) {
	if live == want {
		delete(w.reported, id)
		return
	}
	if key := want + ">" + live; w.reported[id] != key {
		w.reported[id] = key
		w.drifts.Add(1)
		w.log.Warn("registry: approved MCP tool drifted", "tool", id, "approved_content_hash", want, "live_content_hash", live)
	}
}
