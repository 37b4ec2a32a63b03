package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
	"github.com/mcp-authz/mcp-authz/pkg/redact"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// Defaults for Options.
const (
	// DefaultDeadline bounds one evaluation; it is shorter than Envoy's
	// ext_authz timeout so a slow policy yields our deny, not Envoy's.
	DefaultDeadline = 50 * time.Millisecond
	// DefaultQuery is the decision entry point.
	DefaultQuery = "data.mcp.authz.decision"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Deadline bounds one evaluation (default DefaultDeadline).
	Deadline time.Duration
	// EnableNetwork allows http.send and net.lookup_ip_addr. When false (the
	// default) a bundle that calls them is refused at Activate.
	EnableNetwork bool
	// Clock supplies the decision time (time.now_ns, input.request.time);
	// default time.Now.
	Clock func() time.Time
	// Logger receives activation events; default discards.
	Logger *slog.Logger
	// Drift reports live manifests that differ from the approved ones; nil
	// means no drift watch.
	Drift registry.DriftSource
	// Query is the decision query (default DefaultQuery). It must be a
	// reference to a rule the bundle defines.
	Query string
	// Smoke refuses at Activate a bundle whose decision query does not
	// give a well-formed decision for a fixed smoke input (smoke.go), so a
	// hot reload never activates a policy that fails every request.
	Smoke bool
	// ResponseDeadline bounds one list or output evaluation of the
	// response processor (default DefaultResponseDeadline).
	ResponseDeadline time.Duration
	// DecisionCache bounds the decision cache of each revision (entries);
	// 0 turns it off. A revision whose decision depends on more than the
	// input paths its rules read (memo.go) gets none whatever the size.
	DecisionCache int
}

// Engine evaluates requests against the active bundle. It is safe for
// concurrent use: Decide and Explain load an immutable snapshot and never
// take a lock; Activate prepares a new snapshot and swaps it in atomically.
type Engine struct {
	opts   Options
	unsafe map[string]struct{}
	mu     sync.Mutex // serialises Activate so revisions land in call order
	cur    atomic.Pointer[snapshot]
}

// snapshot is everything one revision needs to evaluate; never mutated.
type snapshot struct {
	revision string
	query    rego.PreparedEvalQuery
	list     *rego.PreparedEvalQuery // nil: the bundle has no data.mcp.list
	output   *rego.PreparedEvalQuery // nil: the bundle has no data.mcp.output
	reg      *registry.Registry
	logRules map[string][]decisionlog.MaskRule // data.mcp.decision_log.arguments
	memo     *memo                             // nil: no decision cache
	memoOff  string                            // why memo is nil ("" when off by size)
}

// networkBuiltins are the built-ins that reach the network.
var networkBuiltins = []string{"http.send", "net.lookup_ip_addr"}

// New returns an Engine with no active bundle: until Activate succeeds,
// Decide denies with no_policy.
func New(o Options) *Engine {
	if o.Deadline <= 0 {
		o.Deadline = DefaultDeadline
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.ResponseDeadline <= 0 {
		o.ResponseDeadline = DefaultResponseDeadline
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Query == "" {
		o.Query = DefaultQuery
	}
	if o.EnableNetwork {
		o.Logger.Warn("[INSECURE CONFIG] policy network built-ins enabled", "builtins", networkBuiltins)
	}
	return &Engine{opts: o, unsafe: unsafeBuiltins(o.EnableNetwork)}
}

// unsafeBuiltins returns the built-ins a bundle may not call.
func unsafeBuiltins(enableNetwork bool) map[string]struct{} {
	unsafe := map[string]struct{}{}
	if !enableNetwork {
		for _, name := range networkBuiltins {
			unsafe[name] = struct{}{}
		}
	}
	return unsafe
}

// Activate checks, compiles and prepares b, then makes it the active
// revision. On any error the previous revision stays active.
func (e *Engine) Activate(ctx context.Context, b *bundle.Bundle) error {
	if b == nil {
		return errors.New("policy: activate: nil bundle")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rev := b.Manifest.Revision
	snap, err := e.prepare(ctx, b)
	if err == nil && e.opts.Smoke {
		err = e.smoke(ctx, snap)
	}
	if err != nil {
		e.opts.Logger.Warn("policy bundle refused", "revision", rev, redact.Attr("error", err))
		return fmt.Errorf("policy: activate revision %q: %w", rev, err)
	}
	prev := e.cur.Swap(snap)
	e.opts.Logger.Info("policy bundle activated", "revision", rev, "previous", prevRevision(prev),
		"decision_cache", snap.memo != nil)
	if snap.memoOff != "" {
		e.opts.Logger.Info("decision cache off for this revision", "revision", rev, "why", snap.memoOff)
	}
	if legacy := snap.reg.LegacyPins(); len(legacy) > 0 {
		e.opts.Logger.Warn("deprecated: registry pins in the hex sha256 form; re-pin to content_hash (registry pin)",
			"revision", rev, "tools", len(legacy), "first", legacy[0])
	}
	return nil
}

func prevRevision(s *snapshot) string {
	if s == nil {
		return ""
	}
	return s.revision
}

// Ready reports whether a bundle is active.
func (e *Engine) Ready() bool { return e.cur.Load() != nil }

// Revision returns the active bundle's manifest revision ("" when none).
func (e *Engine) Revision() string { return prevRevision(e.cur.Load()) }
