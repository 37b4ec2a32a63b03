package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

// Limits of the benchmark: a per-user rate and a per-tenant budget (two
// limits per call, like the default bundle's), so large they never refuse
// however long the benchmark runs; and none at all, the baseline.
const (
	benchLimits = `{"methods": ["tools/call"], "limits": {
  "user": {"by": ["user"], "rate": {"requests": 1000000000, "window": 3600, "burst": 1000000000}},
  "tenant_budget": {"by": ["tenant"], "budget": {"units": 1000000000000, "window": 86400}}}}`
	benchNoLimits = `{"methods": ["tools/call"], "limits": {}}`
)

// BenchmarkCheckRateLimit measures what counting a call's limits adds to
// the real in-process Check: the same tools/call mix (64 users in 8
// tenants) with two limits counted in process ("local"), the same two
// counted by a real redis-server on loopback, one Lua script round trip
// ("redis"), and Redis configured with no limit applying
// ("redis-unlimited": no round trip, so it costs what no limit costs).
//
// Each iteration runs one Check with no limit applying and one with the
// variant, alternately, and times each: a loaded machine slows both
// alike, so the ratio holds where separate runs would not. ns/op is the
// pair; limited_ns and none_ns are each side per Check, x_none their
// ratio and added_ns their difference. A missing redis-server fails it.
func BenchmarkCheckRateLimit(b *testing.B) {
	reqs := benchLimitedCalls(b)
	addr := redisproc.Start(b)
	none := buildBench(b, rateLimitConfig(limitedBundle(b, benchNoLimits), ""))
	defer none.Close()
	for _, v := range []struct{ name, limits, yaml string }{
		{"local", benchLimits, ""},
		{"redis", benchLimits, redisLimits(addr, "deny")},
		{"redis-unlimited", benchNoLimits, redisLimits(addr, "deny")},
	} {
		comp := buildBench(b, rateLimitConfig(limitedBundle(b, v.limits), v.yaml))
		b.Run(v.name, func(b *testing.B) { runPairs(b, none, comp, reqs) })
		comp.Close()
	}
}

// buildBench builds the app's components (no listeners) from YAML.
func buildBench(b *testing.B, yaml string) *app.Components {
	b.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	comp, err := app.Build(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return comp
}

// runPairs drives Check on base and on limited alternately over reqs,
// asserting each is allowed, and reports each side's time per Check.
func runPairs(b *testing.B, base, limited *app.Components, reqs []*authv3.CheckRequest) {
	b.ReportAllocs()
	ctx := context.Background()
	var baseT, limT time.Duration
	i := 0
	for b.Loop() {
		req := reqs[i%len(reqs)]
		baseT += timedCheck(b, ctx, base, req)
		limT += timedCheck(b, ctx, limited, req)
		i++
	}
	n := float64(max(i, 1))
	b.ReportMetric(float64(limT)/n, "limited_ns")
	b.ReportMetric(float64(baseT)/n, "none_ns")
	b.ReportMetric(float64(limT-baseT)/n, "added_ns")
	b.ReportMetric(float64(limT)/float64(max(baseT, 1)), "x_none")
}

// timedCheck runs one Check, fails the benchmark unless it is an allow,
// and returns how long it took.
func timedCheck(b *testing.B, ctx context.Context, comp *app.Components, req *authv3.CheckRequest) time.Duration {
	start := time.Now()
	resp, err := comp.Server.Check(ctx, req)
	d := time.Since(start)
	if err != nil || codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		b.Fatalf("Check = %v, %v; want an allow", resp, err)
	}
	return d
}

// benchLimitedCalls are tools/calls of search_issues by 64 users of 8
// tenants, with tokens valid for the benchmark's whole run.
func benchLimitedCalls(b *testing.B) []*authv3.CheckRequest {
	b.Helper()
	exp := time.Now().Add(time.Hour).Unix()
	out := make([]*authv3.CheckRequest, 0, 64)
	for u := range 64 {
		tok := mintAccess(b, map[string]any{"sub": fmt.Sprintf("user-%d", u), "tenant": fmt.Sprintf("t-%d", u%8), "exp": exp})
		out = append(out, limitedCall(tok, "search_issues", fmt.Sprintf("bench-%d", u)))
	}
	return out
}
