package e2e

import (
	"fmt"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

// redisLimits is rate_limits YAML for the shared backend at addr. Its
// timeout is the largest allowed (10s), not the 100ms default: these tests
// judge decisions, and a loaded machine must not turn a slow Redis answer
// into rate_limit_unavailable (a stopped server refuses at once).
func redisLimits(addr, onError string) string {
	return "rate_limits:\n  backend: redis\n  redis:\n    addr: " + addr + "\n    timeout: 10s\n  on_backend_error: " + onError + "\n"
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

// TestRateLimitRedisDPoPReplayAcrossReplicas: with Redis configured, the
// DPoP jti replay cache is shared, so a proof instance A accepted is
// refused when replayed to instance B (whose own cache never saw it), and
// a replay to A itself is still refused. A fresh proof is accepted by B.
// With Redis stopped, a fresh proof cannot be checked against the other
// replicas: 503 replay_cache_unavailable (on_backend_error: deny), counted.
func TestRateLimitRedisDPoPReplayAcrossReplicas(t *testing.T) {
	addr, stop := redisproc.StartStoppable(t)
	cfg := testConfig + redisLimits(addr, "deny")
	_, a := startAppYAML(t, cfg)
	appB, b := startAppYAML(t, cfg)
	key := newDPoPKey(t)
	token := mintAccess(t, map[string]any{"cnf": map[string]any{"jkt": key.jkt}})
	call := func(proof string) *authv3.CheckRequest {
		return mcpPost{authorization: "DPoP " + token, body: searchCallBody,
			headers: map[string]string{"dpop": proof}}.request()
	}
	proof := key.proof(t, e2eResource, token)
	wantAllow(t, "fresh proof on replica A", mustCheck(t, a, call(proof)))
	d := wantDeny(t, "the same proof replayed to replica B", mustCheck(t, b, call(proof)), 401, "invalid_dpop_proof")
	if c := d.headers["www-authenticate"]; !strings.HasPrefix(c, `DPoP error="invalid_dpop_proof"`) || !strings.Contains(c, "already been used") {
		t.Errorf("replay to replica B: WWW-Authenticate %q; want a DPoP invalid_dpop_proof challenge naming the reuse", c)
	}
	wantDeny(t, "the same proof replayed to replica A", mustCheck(t, a, call(proof)), 401, "invalid_dpop_proof")
	wantAllow(t, "a fresh proof on replica B", mustCheck(t, b, call(key.proof(t, e2eResource, token))))

	stop()
	wantDeny(t, "a fresh proof with Redis down", mustCheck(t, b, call(key.proof(t, e2eResource, token))),
		503, "replay_cache_unavailable")
	if n := metricValue(t, scrape(t, appB.Addr("admin")), `mcp_authz_ratelimit_backend_errors_total{action="deny"}`); n < 1 {
		t.Errorf("backend errors counted = %v; want the replay cache's failure counted", n)
	}
}
