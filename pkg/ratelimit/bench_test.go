package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkTake is the limiter alone (no policy, no Check): a request with
// no limit (the path every uncounted request takes), and two limits (a
// per-user rate and a per-tenant budget, never refusing) counted in
// process and in a real redis-server on loopback. BenchmarkCheckRateLimit
// in test/e2e measures the same inside a whole Check.
func BenchmarkTake(b *testing.B) {
	c, _ := startRedis(b)
	reqs := make([]Request, 64)
	for u := range reqs {
		reqs[u] = Request{Tool: "issues/search_issues", Limits: []Limit{
			rate("user", fmt.Sprintf("user=u%d", u), 1_000_000_000, time.Hour, 1_000_000_000),
			budget("tenant_budget", fmt.Sprintf("tenant=t%d", u%8), MaxQuota, 24*time.Hour, 1),
		}}
	}
	for _, v := range []struct {
		name   string
		cfg    Config
		limits bool
	}{
		{"no-limit", Config{Shared: NewRedis(c)}, false},
		{"local", Config{}, true},
		{"redis", Config{Shared: NewRedis(c)}, true},
	} {
		l := New(v.cfg)
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			i := 0
			for b.Loop() {
				req := reqs[i%len(reqs)]
				if !v.limits {
					req.Limits = nil
				}
				if res, err := l.Take(ctx, req); err != nil || !res.Allowed {
					b.Fatalf("Take = %+v, %v; want allowed", res, err)
				}
				i++
			}
		})
	}
}
