package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a real redis-server on a loopback port with a temporary
// directory and no persistence; it is stopped by its PID at the end of t
// (or earlier through the returned stop). A missing binary fails the test.
func startRedis(t testing.TB) (*redis.Client, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (apt-get install -y redis-server, as .ci/run does): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return c, stop
		}
		if i == 100 {
			t.Fatalf("redis-server on port %d did not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
