package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

// startRedis runs a real redis-server on a loopback port (test/redisproc:
// a missing binary fails the test, the port is checked to be its own); it
// is stopped at the end of t or earlier through the returned stop. The
// client's timeouts only turn a hang into a failure: a loaded machine must
// not turn a slow answer into an error (a stopped server refuses at once).
func startRedis(t testing.TB) (*redis.Client, func()) {
	t.Helper()
	addr, stop := redisproc.StartStoppable(t)
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 30 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c, stop
}

// TestRedisSharedLimit: two limiters (two replicas) on one redis-server
// enforce one limit between them, and agree with the local arithmetic.
func TestRedisSharedLimit(t *testing.T) {
	c, _ := startRedis(t)
	clk := newFakeClock()
	a := New(Config{Shared: NewRedis(c), Clock: clk.Now})
	b := New(Config{Shared: NewRedis(c), Clock: clk.Now})
	user := rate("user", "user=alice", 10, time.Minute, 4)
	for i, l := range []*Limiter{a, b, a, b} {
		res, err := l.Take(context.Background(), Request{Limits: []Limit{user}})
		if err != nil || !res.Allowed || res.Backend != "redis" {
			t.Fatalf("call %d: %+v %v; want allowed by redis", i, res, err)
		}
		if st, _ := res.Tightest(); st.Remaining != int64(3-i) {
			t.Errorf("call %d: remaining %d; want %d", i, st.Remaining, 3-i)
		}
	}
	for i, l := range []*Limiter{a, b} {
		res, err := l.Take(context.Background(), Request{Limits: []Limit{user}})
		if err != nil || res.Allowed {
			t.Fatalf("replica %d past the shared burst: %+v %v; want refused", i, res, err)
		}
		if st, _ := res.Denied(); st.RetryAfter != 6*time.Second {
			t.Errorf("replica %d: RetryAfter %v; want 6s", i, st.RetryAfter)
		}
	}
	day := budget("tenant_budget", "tenant=acme", 10, 24*time.Hour, 4)
	for i, want := range []bool{true, true, false} {
		res, err := []*Limiter{a, b, a}[i].Take(context.Background(), Request{Limits: []Limit{day}})
		if err != nil || res.Allowed != want {
			t.Fatalf("budget call %d: %+v %v; want allowed %v", i, res, err, want)
		}
	}
}

// TestRedisDown: with Redis stopped, deny refuses (ErrUnavailable) and
// local answers from this replica's mirror, so no call passes the limit.
func TestRedisDown(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback_local=%v", fallback), func(t *testing.T) {
			c, stop := startRedis(t)
			clk := newFakeClock()
			l := New(Config{Shared: NewRedis(c), Clock: clk.Now, FallbackLocal: fallback})
			user := rate("user", "user=alice", 3, time.Hour, 3)
			for i := range 3 {
				if res, err := l.Take(context.Background(), Request{Limits: []Limit{user}}); err != nil || !res.Allowed {
					t.Fatalf("call %d: %+v %v", i, res, err)
				}
			}
			stop()
			res, err := l.Take(context.Background(), Request{Limits: []Limit{user}})
			switch {
			case !fallback && !errors.Is(err, ErrUnavailable):
				t.Fatalf("Redis down, deny: %+v %v; want ErrUnavailable", res, err)
			case fallback && (err != nil || res.Allowed || res.Backend != "local_fallback"):
				t.Fatalf("Redis down, local: %+v %v; want refused by the local mirror", res, err)
			}
		})
	}
}
