package e2e

import (
	"fmt"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

// redisLimits is rate_limits YAML for the shared backend at addr.
func redisLimits(addr, onError string) string {
	return "rate_limits:\n  backend: redis\n  redis:\n    addr: " + addr + "\n  on_backend_error: " + onError + "\n"
}

// TestRateLimitRedisTwoInstances: two service instances on one real
// redis-server enforce one limit between them. The user's burst of 3 is
// spent alternately on both; the fourth call is refused by whichever
// instance gets it, and another user is unaffected.
func TestRateLimitRedisTwoInstances(t *testing.T) {
	addr := redisproc.Start(t)
	bundle := limitedBundle(t, testRateLimits)
	_, a := startAppYAML(t, rateLimitConfig(bundle, redisLimits(addr, "deny")))
	_, b := startAppYAML(t, rateLimitConfig(bundle, redisLimits(addr, "deny")))
	replicas := []authv3.AuthorizationClient{a, b}
	alice := mintAccess(t, nil)
	for i := range 3 {
		resp := mustCheck(t, replicas[i%2], limitedCall(alice, "search_issues", fmt.Sprintf("r2-%d", i)))
		wantAllow(t, fmt.Sprintf("call %d on replica %d", i, i%2), resp)
	}
	for i, c := range replicas {
		d := wantDeny(t, fmt.Sprintf("over the shared limit on replica %d", i),
			mustCheck(t, c, limitedCall(alice, "search_issues", "r2-over")), 429, "rate_limited")
		checkRateLimited(t, d, 3)
	}
	bob := mintAccess(t, map[string]any{"sub": "bob"})
	wantAllow(t, "another user on replica 1", mustCheck(t, b, limitedCall(bob, "search_issues", "r2-bob")))
}

// TestRateLimitRedisDown: Redis stopped mid-run gives the configured
// behaviour and never an allow beyond the limit. With deny (the default)
// a counted call is a 503; with local, each replica falls back to its own
// count, which already holds what it charged through Redis.
func TestRateLimitRedisDown(t *testing.T) {
	t.Run("deny", func(t *testing.T) {
		addr, stop := redisproc.StartStoppable(t)
		_, c := startAppYAML(t, rateLimitConfig(limitedBundle(t, testRateLimits), redisLimits(addr, "deny")))
		alice := mintAccess(t, nil)
		wantAllow(t, "call with Redis up", mustCheck(t, c, limitedCall(alice, "search_issues", "d-1")))
		stop()
		wantDeny(t, "counted call with Redis down", mustCheck(t, c, limitedCall(alice, "search_issues", "d-2")),
			503, "rate_limit_unavailable")
		list := mcpPost{authorization: "Bearer " + alice, body: toolsListBody}.request()
		wantAllow(t, "uncounted method with Redis down", mustCheck(t, c, list))
	})
	t.Run("local", func(t *testing.T) {
		addr, stop := redisproc.StartStoppable(t)
		_, c := startAppYAML(t, rateLimitConfig(limitedBundle(t, testRateLimits), redisLimits(addr, "local")))
		alice := mintAccess(t, nil)
		for i := range 2 {
			wantAllow(t, fmt.Sprintf("call %d with Redis up", i), mustCheck(t, c, limitedCall(alice, "search_issues", "l")))
		}
		stop()
		wantAllow(t, "third call, local count", mustCheck(t, c, limitedCall(alice, "search_issues", "l")))
		wantDeny(t, "fourth call, local count", mustCheck(t, c, limitedCall(alice, "search_issues", "l")), 429, "rate_limited")
	})
}
