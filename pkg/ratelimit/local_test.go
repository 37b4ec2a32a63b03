package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// tstep is one request of a scripted sequence: advance the clock, take, and
// expect a verdict (and, when set, the remaining count and retry wait).
type tstep struct {
	advance   time.Duration
	limits    []Limit
	allow     bool
	remaining int64         // checked when >= 0
	retry     time.Duration // checked when allow is false
}

func TestLocalSequences(t *testing.T) {
	user := rate("user", "user=alice", 10, time.Minute, 3) // one every 6s, 3 at once
	day := budget("tenant_budget", "tenant=acme", 10, 24*time.Hour, 4)
	tests := []struct {
		name  string
		steps []tstep
	}{
		{name: "burst then refused, one more after an interval", steps: []tstep{
			{limits: []Limit{user}, allow: true, remaining: 2},
			{limits: []Limit{user}, allow: true, remaining: 1},
			{limits: []Limit{user}, allow: true, remaining: 0},
			{limits: []Limit{user}, allow: false, remaining: 0, retry: 6 * time.Second},
			{advance: 5 * time.Second, limits: []Limit{user}, allow: false, remaining: 0, retry: time.Second},
			{advance: time.Second, limits: []Limit{user}, allow: true, remaining: 0},
			{limits: []Limit{user}, allow: false, remaining: 0, retry: 6 * time.Second},
		}},
		{name: "sustained rate at the emission interval never refuses", steps: []tstep{
			{limits: []Limit{user}, allow: true, remaining: 2},
			{advance: 6 * time.Second, limits: []Limit{user}, allow: true, remaining: 2},
			{advance: 6 * time.Second, limits: []Limit{user}, allow: true, remaining: 2},
			{advance: 6 * time.Second, limits: []Limit{user}, allow: true, remaining: 2},
		}},
		{name: "idle refills the whole burst, never more", steps: []tstep{
			{limits: []Limit{user}, allow: true, remaining: 2},
			{advance: time.Hour, limits: []Limit{user}, allow: true, remaining: 2},
		}},
		{name: "budget spent, refused until the window resets at midnight UTC", steps: []tstep{
			{limits: []Limit{day}, allow: true, remaining: 6},
			{limits: []Limit{day}, allow: true, remaining: 2},
			{limits: []Limit{day}, allow: false, remaining: 2, retry: 14 * time.Hour},
			{advance: 14*time.Hour - time.Second, limits: []Limit{day}, allow: false, remaining: 2, retry: time.Second},
			{advance: time.Second, limits: []Limit{day}, allow: true, remaining: 6},
		}},
		{name: "a refused request spends nothing on the other limits", steps: []tstep{
			{limits: []Limit{user, day}, allow: true, remaining: -1},
			{limits: []Limit{user, day}, allow: true, remaining: -1},
			{limits: []Limit{user, day}, allow: false, remaining: -1, retry: 14 * time.Hour},
			{limits: []Limit{user}, allow: true, remaining: 0},
		}},
		{name: "a cost larger than the whole budget is refused", steps: []tstep{
			{limits: []Limit{budget("b", "k", 3, time.Hour, 4)}, allow: false, remaining: 3, retry: time.Hour},
		}},
		{name: "zero cost passes an exhausted budget", steps: []tstep{
			{limits: []Limit{budget("b", "k", 3, time.Hour, 3)}, allow: true, remaining: 0},
			{limits: []Limit{budget("b", "k", 3, time.Hour, 0)}, allow: true, remaining: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			l := New(Config{Clock: clk.Now})
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				res, err := l.Take(context.Background(), Request{Limits: s.limits})
				if err != nil {
					t.Fatalf("step %d: Take: %v", i, err)
				}
				checkStep(t, i, s, res)
			}
		})
	}
}

func checkStep(t *testing.T, i int, s tstep, res Result) {
	t.Helper()
	if res.Allowed != s.allow {
		t.Fatalf("step %d: Allowed = %v; want %v (%+v)", i, res.Allowed, s.allow, res.Statuses)
	}
	st, _ := res.Tightest()
	if !s.allow {
		st, _ = res.Denied()
		if st.RetryAfter != s.retry {
			t.Errorf("step %d: RetryAfter = %v; want %v", i, st.RetryAfter, s.retry)
		}
	}
	if s.remaining >= 0 && st.Remaining != s.remaining {
		t.Errorf("step %d: Remaining = %d; want %d", i, st.Remaining, s.remaining)
	}
}

// TestLocalFloodKeepsLimitedCaller floods the store with far more distinct
// users than it holds: its size stays bounded and the user who is over the
// limit stays refused throughout.
func TestLocalFloodKeepsLimitedCaller(t *testing.T) {
	clk := newFakeClock()
	const maxKeys = 500
	l := New(Config{Clock: clk.Now, MaxKeys: maxKeys})
	hog := rate("user", "user=mallory", 5, time.Hour, 5)
	for range 5 {
		if res, err := l.Take(context.Background(), Request{Limits: []Limit{hog}}); err != nil || !res.Allowed {
			t.Fatalf("hog within burst: %v %v", res.Allowed, err)
		}
	}
	for i := range 50_000 {
		if i%100 == 0 {
			clk.Advance(time.Millisecond)
		}
		u := rate("user", fmt.Sprintf("user=u%d", i), 5, time.Hour, 5)
		if _, err := l.Take(context.Background(), Request{Limits: []Limit{u}}); err != nil {
			t.Fatalf("flood user %d: %v", i, err)
		}
		if n := l.Local().Len(); n > maxKeys {
			t.Fatalf("after %d users the store holds %d entries; want at most %d", i, n, maxKeys)
		}
		if i%1000 == 0 {
			if res, _ := l.Take(context.Background(), Request{Limits: []Limit{hog}}); res.Allowed {
				t.Fatalf("after %d flood users the over-limit user was allowed", i)
			}
		}
	}
	if l.Local().Evictions() == 0 {
		t.Fatal("no eviction counted during the flood")
	}
}

// TestLocalFullOfLimitedCallersRefuses: when every sampled entry is a
// limited caller, a new key is refused (fail closed) instead of evicting one.
func TestLocalFullOfLimitedCallersRefuses(t *testing.T) {
	clk := newFakeClock()
	l := New(Config{Clock: clk.Now, MaxKeys: 3})
	for i := range 3 {
		u := rate("user", fmt.Sprintf("user=u%d", i), 1, time.Hour, 1)
		if res, err := l.Take(context.Background(), Request{Limits: []Limit{u}}); err != nil || !res.Allowed {
			t.Fatalf("user %d: %v %v", i, res.Allowed, err)
		}
	}
	_, err := l.Take(context.Background(), Request{Limits: []Limit{rate("user", "user=new", 1, time.Hour, 1)}})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Take with a store full of limited callers = %v; want ErrUnavailable", err)
	}
	clk.Advance(time.Hour)
	if _, err := l.Take(context.Background(), Request{Limits: []Limit{rate("user", "user=new", 1, time.Hour, 1)}}); err != nil {
		t.Fatalf("after the window the entries are free to go: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		l    Limit
		ok   bool
	}{
		{name: "rate", l: rate("r", "k", 10, time.Minute, 5), ok: true},
		{name: "budget", l: budget("b", "k", 10, time.Hour, 1), ok: true},
		{name: "no name", l: rate("", "k", 10, time.Minute, 5)},
		{name: "zero quota", l: rate("r", "k", 0, time.Minute, 5)},
		{name: "window under a second", l: rate("r", "k", 1, time.Millisecond, 1)},
		{name: "faster than a microsecond", l: rate("r", "k", 2_000_000, time.Second, 1)},
		{name: "negative cost", l: budget("b", "k", 10, time.Hour, -1)},
		{name: "unknown kind", l: Limit{Name: "x", Quota: 1, Window: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.l.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v; want ok %v", tt.l, err, tt.ok)
			}
		})
	}
}

func TestChargeTakesBudgetPastQuota(t *testing.T) {
	clk := newFakeClock()
	l := New(Config{Clock: clk.Now})
	b := budget("b", "k", 10, time.Hour, 1)
	if res, _ := l.Take(context.Background(), Request{Limits: []Limit{b}}); !res.Allowed {
		t.Fatal("first call refused")
	}
	if err := l.Charge(context.Background(), []Limit{b, rate("r", "k", 1, time.Hour, 1)}, 20, ""); err != nil {
		t.Fatalf("Charge: %v", err)
	}
	res, _ := l.Take(context.Background(), Request{Limits: []Limit{b}})
	if st, denied := res.Denied(); !denied || st.Remaining != 0 {
		t.Fatalf("after a reported cost of 20 the budget allowed: %+v", res)
	}
	clk.Advance(time.Hour)
	if res, _ := l.Take(context.Background(), Request{Limits: []Limit{b}}); !res.Allowed {
		t.Fatal("the next window still refused")
	}
}

// TestRefusedRequestStatuses: when one limit refuses, the others were not
// charged, and their statuses say so (what remains without the request),
// on the local store and on Redis alike.
func TestRefusedRequestStatuses(t *testing.T) {
	c, _ := startRedis(t)
	for _, shared := range []Shared{nil, NewRedis(c)} {
		clk := newFakeClock()
		l := New(Config{Clock: clk.Now, Shared: shared})
		user := rate("user", fmt.Sprintf("user=alice-%v", shared != nil), 10, time.Minute, 3)
		day := budget("tenant_budget", fmt.Sprintf("tenant=acme-%v", shared != nil), 10, 24*time.Hour, 4)
		for i, want := range []bool{true, true, false} {
			res, err := l.Take(context.Background(), Request{Limits: []Limit{user, day}})
			if err != nil || res.Allowed != want {
				t.Fatalf("shared %v, call %d: %+v %v; want allowed %v", shared != nil, i, res, err, want)
			}
		}
		clk.Advance(time.Minute) // the rate is whole again; the budget has 2 units left
		res, err := l.Take(context.Background(), Request{Limits: []Limit{user, day}})
		if err != nil || res.Allowed {
			t.Fatalf("shared %v: %+v %v; want the budget to refuse", shared != nil, res, err)
		}
		if st := res.Statuses[0]; !st.Allowed || st.Remaining != 3 || st.Reset != 0 {
			t.Errorf("shared %v: uncharged rate status %+v; want allowed, 3 remaining (the whole burst), reset 0", shared != nil, st)
		}
		if st := res.Statuses[1]; st.Allowed || st.Remaining != 2 {
			t.Errorf("shared %v: refusing budget status %+v; want refused with 2 remaining", shared != nil, st)
		}
	}
}
