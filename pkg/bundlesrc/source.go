// Package bundlesrc feeds the policy engine new bundle revisions while it
// serves: from a bundle server speaking OPA's bundle protocol (OPA's own
// downloader and signature verification), or from a bundle file or
// directory that is reloaded when it changes.
//
// Every candidate goes through Engine.Activate, which compiles, smoke-tests
// and prepares it before one atomic swap, so each Check runs on one
// revision and a refused bundle (download, signature, parse, compile or
// smoke failure) leaves the last good one serving. Each activation and
// refusal is logged, counted and reported in Status for /readyz.
package bundlesrc

import (
	"context"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// Activator is the engine: it activates a bundle atomically or refuses it.
type Activator interface {
	Activate(ctx context.Context, b *bundle.Bundle) error
	Revision() string
}

// Status is what /readyz reports about the bundle source.
type Status struct {
	// Source is "url", "path" or "embedded".
	Source string `json:"source"`
	// Revision is the active revision.
	Revision string `json:"revision"`
	// ActivatedAt is when it was activated (zero before the first).
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	// AgeSeconds is how long it has been active.
	AgeSeconds float64 `json:"age_seconds"`
	// LastError is the last refusal or download failure ("" after a
	// success): never a URL's query, a credential or policy input.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when it happened.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Activations and Refusals count since start.
	Activations uint64 `json:"activations"`
	Refusals    uint64 `json:"refusals"`
}

// tracker records activations and refusals for Status and metrics.
type tracker struct {
	source string
	clock  func() time.Time
	mu     sync.Mutex
	st     Status
}

func newTracker(source string, clock func() time.Time) *tracker {
	if clock == nil {
		clock = time.Now
	}
	return &tracker{source: source, clock: clock, st: Status{Source: source}}
}

func (t *tracker) activated(rev string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Revision, t.st.ActivatedAt = rev, t.clock()
	t.st.LastError, t.st.LastErrorAt = "", time.Time{}
	t.st.Activations++
}

func (t *tracker) refused(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.LastError, t.st.LastErrorAt = err.Error(), t.clock()
	t.st.Refusals++
}

// status returns a copy with the age filled in.
func (t *tracker) status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	if !st.ActivatedAt.IsZero() {
		st.AgeSeconds = t.clock().Sub(st.ActivatedAt).Seconds()
	}
	return st
}
