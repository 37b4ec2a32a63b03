package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Shared is a backend every replica shares (Redis). Take judges and, when
// every limit allows, charges them all atomically; Charge adds budget units
// unconditionally (a cost reported after the call ran).
type Shared interface {
	Take(ctx context.Context, ls []Limit, now int64) (Result, error)
	Charge(ctx context.Context, ls []Limit, now int64) error
}

// Observer receives aggregate counts; labels are limit names, kinds and
// tools, never users or keys.
type Observer interface {
	// ObserveLimit counts one limit's verdict and the units it charged.
	ObserveLimit(name, kind, tool string, allowed bool, cost int64)
	// ObserveBackendError counts a failed shared-backend call and what was
	// done about it ("deny" or "local").
	ObserveBackendError(action string)
}

// Config configures a Limiter.
type Config struct {
	// Shared is the cross-replica backend; nil counts locally only.
	Shared Shared
	// FallbackLocal answers from the local store when Shared fails; false
	// refuses the request (ErrUnavailable), the fail-closed default.
	FallbackLocal bool
	// MaxKeys bounds the local store (0: DefaultMaxKeys).
	MaxKeys int
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
	// Logger receives backend failures (never keys or users).
	Logger *slog.Logger
	// Observer receives counts (nil: none).
	Observer Observer
	// Pending keeps the budgets of allowed requests until their cost is
	// reported (nil: in process, DefaultPendingSize entries); with Redis,
	// Redis, so any replica takes the report.
	Pending PendingStore
	// PendingTTL is how long a request's budgets wait for a cost report
	// (0: DefaultPendingTTL).
	PendingTTL time.Duration
}

// Limiter judges the limits of a request. With a shared backend the local
// store mirrors every charge this replica made, so a fallback after Redis
// fails starts from this replica's own count rather than from zero.
type Limiter struct {
	cfg   Config
	local *Local
}

// Request is what one Check asks the limiter.
type Request struct {
	// Limits apply to the request; none means nothing is counted.
	Limits []Limit
	// Tool is the canonical tool id, a metric label only.
	Tool string
	// RequestID identifies the request for a later cost report ("": none).
	RequestID string
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Pending == nil {
		cfg.Pending = newLocalPending(DefaultPendingSize, cfg.Clock)
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = DefaultPendingTTL
	}
	return &Limiter{cfg: cfg, local: NewLocal(cfg.MaxKeys)}
}

// Local returns the in-process store (for metrics).
func (l *Limiter) Local() *Local { return l.local }

// Take judges req.Limits and charges them when all allow. A request no
// limit applies to returns at once, without touching any backend. An
// invalid limit or an unavailable backend is an error: the caller refuses.
func (l *Limiter) Take(ctx context.Context, req Request) (Result, error) {
	if len(req.Limits) == 0 {
		return Result{Allowed: true}, nil
	}
	for _, lim := range req.Limits {
		if err := lim.Validate(); err != nil {
			return Result{}, fmt.Errorf("limit %q: %w", lim.Name, err)
		}
	}
	now := micros(l.cfg.Clock())
	res, err := l.take(ctx, req.Limits, now)
	if err != nil {
		return Result{}, err
	}
	if !res.Allowed {
		for i, st := range res.Statuses {
			if st.Allowed {
				res.Statuses[i] = unspent(st)
			}
		}
	}
	l.observe(req, res)
	if res.Allowed && req.RequestID != "" {
		l.remember(ctx, req)
	}
	return res, nil
}

// remember keeps the request's budgets for its cost report; a failure only
// means a later report finds nothing (logged), never a refused request.
func (l *Limiter) remember(ctx context.Context, req Request) {
	var budgets []Limit
	for _, lim := range req.Limits {
		if lim.Kind == KindBudget {
			budgets = append(budgets, lim)
		}
	}
	if len(budgets) == 0 {
		return
	}
	if err := l.cfg.Pending.Put(ctx, req.RequestID, Pending{Limits: budgets, Tool: req.Tool}, l.cfg.PendingTTL); err != nil {
		l.cfg.Logger.Warn("rate-limit: cannot keep budgets for a cost report", "error", err.Error())
	}
}

// Report charges the cost an upstream reported for an allowed request to
// the budgets it was counted against: the part of cost beyond what was
// charged when it was allowed (never a refund). A request id is reported
// once; an unknown one is ErrUnknownRequest. It returns the units charged.
func (l *Limiter) Report(ctx context.Context, requestID string, cost int64) (int64, error) {
	if cost < 0 || cost > MaxCost {
		return 0, errors.New("ratelimit: cost outside [0, 1e12]")
	}
	p, err := l.cfg.Pending.Take(ctx, requestID)
	if err != nil {
		return 0, err
	}
	var extra int64
	for _, lim := range p.Limits {
		extra = max(extra, cost-lim.Cost)
	}
	if extra <= 0 {
		return 0, nil
	}
	if err := l.Charge(ctx, p.Limits, extra, p.Tool); err != nil {
		return 0, err
	}
	return extra, nil
}

func (l *Limiter) take(ctx context.Context, ls []Limit, now int64) (Result, error) {
	if l.cfg.Shared == nil {
		return l.local.take(ls, now, false)
	}
	res, err := l.cfg.Shared.Take(ctx, ls, now)
	if err == nil {
		if res.Allowed {
			_, _ = l.local.take(ls, now, true) // mirror; a full mirror only weakens a later fallback
		}
		return res, nil
	}
	return l.fallback(err, func() (Result, error) {
		r, err := l.local.take(ls, now, false)
		r.Backend = "local_fallback"
		return r, err
	})
}

// fallback handles a shared-backend failure: counted, logged, then denied
// or answered locally as configured.
func (l *Limiter) fallback(err error, local func() (Result, error)) (Result, error) {
	action := "deny"
	if l.cfg.FallbackLocal {
		action = "local"
	}
	if o := l.cfg.Observer; o != nil {
		o.ObserveBackendError(action)
	}
	l.cfg.Logger.Warn("rate-limit backend failed", "action", action, "error", err.Error())
	if !l.cfg.FallbackLocal {
		return Result{}, errors.Join(ErrUnavailable, err)
	}
	return local()
}

// Charge adds cost units to every budget of ls (a cost reported once the
// call ran); rates are left alone. It may take a budget past its quota:
// the next request is then refused until the window resets.
func (l *Limiter) Charge(ctx context.Context, ls []Limit, cost int64, tool string) error {
	var budgets []Limit
	for _, lim := range ls {
		if lim.Kind == KindBudget {
			lim.Cost = cost
			if err := lim.Validate(); err != nil {
				return fmt.Errorf("limit %q: %w", lim.Name, err)
			}
			budgets = append(budgets, lim)
		}
	}
	if len(budgets) == 0 || cost <= 0 {
		return nil
	}
	now := micros(l.cfg.Clock())
	if err := l.charge(ctx, budgets, now); err != nil {
		return err
	}
	l.observe(Request{Limits: budgets, Tool: tool}, Result{Allowed: true, Statuses: allowed(budgets)})
	return nil
}

// charge adds to the shared backend (mirrored locally) or the local store.
func (l *Limiter) charge(ctx context.Context, budgets []Limit, now int64) error {
	if l.cfg.Shared == nil {
		_, err := l.local.take(budgets, now, true)
		return err
	}
	if err := l.cfg.Shared.Charge(ctx, budgets, now); err != nil {
		_, err = l.fallback(err, func() (Result, error) { return l.local.take(budgets, now, true) })
		return err
	}
	_, _ = l.local.take(budgets, now, true) // mirror
	return nil
}

func allowed(ls []Limit) []Status {
	out := make([]Status, len(ls))
	for i, l := range ls {
		out[i] = Status{Limit: l, Allowed: true}
	}
	return out
}

// observe counts each limit's verdict; charged units only when allowed.
func (l *Limiter) observe(req Request, res Result) {
	o := l.cfg.Observer
	if o == nil {
		return
	}
	for _, st := range res.Statuses {
		var cost int64
		if res.Allowed && st.Limit.Kind == KindBudget {
			cost = st.Limit.Cost
		}
		o.ObserveLimit(st.Limit.Name, st.Limit.Kind.String(), req.Tool, st.Allowed, cost)
	}
}
