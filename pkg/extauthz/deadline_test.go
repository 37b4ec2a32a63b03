package extauthz

import (
	"context"
	"testing"
	"time"
)

// TestBound: Check's context ends DeadlineMargin before the caller's
// deadline, or halfway when the budget is under twice the margin; a caller
// without a deadline gets none.
func TestBound(t *testing.T) {
	tests := []struct {
		name      string
		budget    time.Duration // 0: no deadline
		margin    time.Duration
		minCut    time.Duration // the new deadline is at least this much earlier
		maxCut    time.Duration // and at most this much
		hasBudget bool
	}{
		{name: "no deadline", margin: 20 * time.Millisecond},
		// An hour, not a second: bound reads the wall clock, and a test
		// descheduled for most of a 1s budget would see it under twice the
		// margin.
		{name: "ample budget", budget: time.Hour, margin: 20 * time.Millisecond, minCut: 20 * time.Millisecond, maxCut: 20 * time.Millisecond, hasBudget: true},
		{name: "budget under twice the margin", budget: 10 * time.Millisecond, margin: 20 * time.Millisecond, minCut: 0, maxCut: 5 * time.Millisecond, hasBudget: true},
		{name: "no margin", budget: time.Hour, hasBudget: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{DeadlineMargin: tc.margin}, nil, nil)
			parent := context.Background()
			if tc.budget > 0 {
				var cancel context.CancelFunc
				parent, cancel = context.WithTimeout(parent, tc.budget)
				defer cancel()
			}
			ctx, cancel := s.bound(parent)
			defer cancel()
			dl, ok := ctx.Deadline()
			if ok != tc.hasBudget {
				t.Fatalf("bound(%s) has deadline %v; want %v", tc.name, ok, tc.hasBudget)
			}
			if !ok {
				return
			}
			pdl, _ := parent.Deadline()
			if cut := pdl.Sub(dl); cut < tc.minCut || cut > tc.maxCut {
				t.Errorf("bound(budget %s, margin %s) ends %s before the caller; want within [%s, %s]", tc.budget, tc.margin, cut, tc.minCut, tc.maxCut)
			}
		})
	}
}
