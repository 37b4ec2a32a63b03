// Package ratelimit enforces the rate limits and cost budgets a policy
// decision names: GCRA for rates (requests per window with a burst) and
// fixed windows for budgets (cost units per window, reset at a known time).
// The same arithmetic runs in process (Local, bounded and evicting) and in
// Redis (an atomic server-side script, so replicas share one limit).
//
// A Take is all or nothing: when one limit refuses, none is charged, so a
// refused call spends nothing. The package imports nothing of mcp-authz:
// the ext_authz server declares the interface it consumes and app wires it.
package ratelimit

import (
	"errors"
	"time"
)

// Kind says how a Limit counts.
type Kind uint8

const (
	// KindRate is a GCRA rate: Quota requests per Window, at most Burst at once.
	KindRate Kind = iota + 1
	// KindBudget is a fixed-window budget: Quota cost units per Window,
	// windows aligned to the Unix epoch (a one-day window resets at 00:00 UTC).
	KindBudget
)

// String returns "rate" or "budget".
func (k Kind) String() string {
	switch k {
	case KindRate:
		return "rate"
	case KindBudget:
		return "budget"
	}
	return "unknown"
}

// Bounds on a Limit, checked by Validate: they keep the arithmetic exact in
// int64 nanoseconds and in the Redis script's doubles (microseconds).
const (
	MaxQuota   = 1_000_000_000_000
	MaxWindow  = 366 * 24 * time.Hour
	MinWindow  = time.Second
	MaxBurst   = 1_000_000_000
	MaxCost    = 1_000_000_000_000
	maxKeyLen  = 1024
	maxNameLen = 64
)

// Limit is one rate limit or budget that applies to a request.
type Limit struct {
	// Name is the limit's stable name (a metric label, a RateLimit-Policy name).
	Name string
	// Key is the partition the limit counts for, e.g. "user=alice".
	Key string
	// Kind is KindRate or KindBudget.
	Kind Kind
	// Quota is requests per Window (rate) or cost units per Window (budget).
	Quota int64
	// Window is the period Quota applies to.
	Window time.Duration
	// Burst is how many requests a rate allows at once (0: Quota).
	Burst int64
	// Cost is the units a request charges to a budget (rates charge 1).
	Cost int64
}

// Validate reports a limit the arithmetic cannot hold exactly.
func (l Limit) Validate() error {
	switch {
	case l.Name == "" || len(l.Name) > maxNameLen:
		return errors.New("ratelimit: name must be 1 to 64 bytes")
	case len(l.Key) > maxKeyLen:
		return errors.New("ratelimit: key longer than 1024 bytes")
	case l.Kind != KindRate && l.Kind != KindBudget:
		return errors.New("ratelimit: unknown kind")
	case l.Quota < 1 || l.Quota > MaxQuota:
		return errors.New("ratelimit: quota outside [1, 1e12]")
	case l.Window < MinWindow || l.Window > MaxWindow:
		return errors.New("ratelimit: window outside [1s, 366d]")
	case l.Burst < 0 || l.Burst > MaxBurst:
		return errors.New("ratelimit: burst outside [0, 1e9]")
	case l.Cost < 0 || l.Cost > MaxCost:
		return errors.New("ratelimit: cost outside [0, 1e12]")
	case l.Kind == KindRate && l.Quota > int64(l.Window/time.Microsecond):
		return errors.New("ratelimit: rate faster than one request per microsecond")
	}
	return nil
}

// Status is one limit's state after a Take.
type Status struct {
	// Limit is the limit this status is for.
	Limit Limit
	// Allowed is false when this limit refused the request.
	Allowed bool
	// Remaining is the requests (rate) or units (budget) still available now.
	Remaining int64
	// Reset is how long until the limit is whole again: the rate's bucket
	// is full, or the budget's window ends.
	Reset time.Duration
	// RetryAfter is how long until the refused request would be allowed
	// (0 when allowed).
	RetryAfter time.Duration
}

// Result is the outcome of a Take over every limit of a request.
type Result struct {
	// Allowed is true when every limit allowed the request (and all were charged).
	Allowed bool
	// Statuses holds one status per limit, in the order given.
	Statuses []Status
	// Backend names where the limits were counted: "local", "redis", or
	// "local_fallback" when Redis failed and on_backend_error is local.
	Backend string
}

// Denied returns the refusing status with the longest wait (the one the
// client must honour), or false when the request was allowed.
func (r Result) Denied() (Status, bool) {
	var out Status
	found := false
	for _, s := range r.Statuses {
		if !s.Allowed && (!found || s.RetryAfter > out.RetryAfter) {
			out, found = s, true
		}
	}
	return out, found
}

// Tightest returns the allowed status with the fewest remaining relative
// to its quota, for the RateLimit header of an allowed response.
func (r Result) Tightest() (Status, bool) {
	var out Status
	found := false
	for _, s := range r.Statuses {
		if !found || s.Remaining*out.Limit.Quota < out.Remaining*s.Limit.Quota {
			out, found = s, true
		}
	}
	return out, found
}

// ErrUnavailable is returned when the limits could not be counted (the
// backend failed and on_backend_error is deny, or local storage is full
// of callers over their limits): the request must be refused.
var ErrUnavailable = errors.New("ratelimit: limits unavailable")
