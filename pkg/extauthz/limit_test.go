package extauthz

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/ratelimit"
	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// TestLimitsInDecisionLog: the decision log explains a 429: each limit's
// partition, what the request cost and what remains, and when it resets.
// A fixed clock makes every number exact.
func TestLimitsInDecisionLog(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dec := &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed", RateLimits: []policy.RateLimit{
		{Name: "user", Key: "user=https://auth.example.test alice", Rate: &policy.Rate{Requests: 1, Window: 3600}},
		{Name: "tenant_budget", Key: "tenant=acme", Budget: &policy.Budget{Units: 10, Window: 3600}, Cost: 4},
	}}}
	rec := &memRecorder{}
	s := newTestServer(t, dec, func(o *Options) {
		o.Recorder, o.Clock = rec, clock
		o.Limiter = ratelimit.New(ratelimit.Config{Clock: clock})
	})
	hour := timestamppb.New(now.Add(time.Hour))
	rate := func(allowed bool, cost, retryMs int64) *mcpauthzv1.RateLimitStatus {
		return &mcpauthzv1.RateLimitStatus{Name: "user", Kind: "rate", Key: "user=https://auth.example.test alice",
			Allowed: allowed, Cost: cost, Quota: 1, WindowSeconds: 3600, ResetAt: hour, RetryAfterMs: retryMs}
	}
	budget := func(cost, remaining int64) *mcpauthzv1.RateLimitStatus {
		return &mcpauthzv1.RateLimitStatus{Name: "tenant_budget", Kind: "budget", Key: "tenant=acme", Allowed: true,
			Cost: cost, Quota: 10, WindowSeconds: 3600, Remaining: remaining, ResetAt: hour}
	}
	for i, want := range []struct {
		reason string
		limits []*mcpauthzv1.RateLimitStatus
	}{
		{"allowed", []*mcpauthzv1.RateLimitStatus{rate(true, 1, 0), budget(4, 6)}},
		{"rate_limited", []*mcpauthzv1.RateLimitStatus{rate(false, 0, 3_600_000), budget(0, 6)}},
	} {
		if _, err := s.Check(context.Background(), baseSpec(mint(t, nil)).build()); err != nil {
			t.Fatal(err)
		}
		r := rec.last(t).Record
		if r.GetReason() != want.reason || r.GetRateLimitBackend() != "local" {
			t.Errorf("call %d: record reason %q backend %q; want %q local", i, r.GetReason(), r.GetRateLimitBackend(), want.reason)
		}
		if diff := cmp.Diff(want.limits, r.GetRateLimits(), protocmp.Transform()); diff != "" {
			t.Errorf("call %d: record rate_limits (-want +got):\n%s", i, diff)
		}
	}
}

// TestNoLimitsNoRecord: a decision naming no limit leaves the record's
// rate-limit fields empty (and never reaches the limiter).
func TestNoLimitsNoRecord(t *testing.T) {
	rec := &memRecorder{}
	s := newTestServer(t, &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed"}}, func(o *Options) {
		o.Recorder = rec
		o.Limiter = ratelimit.New(ratelimit.Config{Shared: failingShared{t}})
	})
	resp, err := s.Check(context.Background(), baseSpec(mint(t, nil)).build())
	if err != nil || resp.GetOkResponse() == nil {
		t.Fatalf("Check = %v, %v; want an allow", resp, err)
	}
	if r := rec.last(t).Record; len(r.GetRateLimits()) != 0 || r.GetRateLimitBackend() != "" {
		t.Errorf("record rate_limits %v backend %q; want none", r.GetRateLimits(), r.GetRateLimitBackend())
	}
}

// failingShared is a shared backend a test must never reach.
type failingShared struct{ t *testing.T }

func (f failingShared) Take(context.Context, []ratelimit.Limit, int64) (ratelimit.Result, error) {
	f.t.Error("the shared backend was asked about a request no limit applies to")
	return ratelimit.Result{}, ratelimit.ErrUnavailable
}

func (f failingShared) Charge(context.Context, []ratelimit.Limit, int64) error {
	f.t.Error("the shared backend was charged for a request no limit applies to")
	return ratelimit.ErrUnavailable
}
