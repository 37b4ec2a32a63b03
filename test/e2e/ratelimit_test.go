package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// The limits of the rate-limit tests: windows of an hour or a day, so the
// real clock these end-to-end runs use never refills them mid-test.
const testRateLimits = `{
  "methods": ["tools/call"],
  "limits": {
    "user": {"by": ["user"], "rate": {"requests": 3, "window": 3600, "burst": 3}},
    "tenant_budget": {"by": ["tenant"], "budget": {"units": 25, "window": 86400}}
  },
  "overrides": [{"limit": "user", "match": {"role": "bulk"}, "exempt": true}]
}`

// limitedBundle writes the default policies with rateLimits as
// data.mcp.rate_limits to a directory and returns its path.
func limitedBundle(t testing.TB, rateLimits string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "policies")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "data.json" {
			b = withRateLimits(t, b, rateLimits)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func withRateLimits(t testing.TB, data []byte, rateLimits string) []byte {
	t.Helper()
	var doc map[string]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var rl any
	if err := json.Unmarshal([]byte(rateLimits), &rl); err != nil {
		t.Fatal(err)
	}
	doc["mcp"]["rate_limits"] = rl
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rateLimitConfig is testConfig on a bundle directory, plus extra YAML.
func rateLimitConfig(bundleDir, extra string) string {
	return testConfig + "bundle:\n  path: " + bundleDir + "\n" + extra
}

// limitedCall is a tools/call of tool by the token's holder, with a request id.
func limitedCall(token, tool, requestID string) *authv3.CheckRequest {
	args := map[string]string{"search_issues": `{"query":"x"}`, "run_query": `{"database":"main","sql":"select 1"}`,
		"create_issue": `{"repo":"acme/api","title":"t"}`}[tool]
	body := `{"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	return mcpPost{authorization: "Bearer " + token, body: body, headers: map[string]string{"x-request-id": requestID}}.request()
}

func okHeaders(resp *authv3.CheckResponse) map[string]string {
	out := map[string]string{}
	for _, h := range resp.GetOkResponse().GetResponseHeadersToAdd() {
		out[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return out
}

// rateLimitedError is the JSON-RPC error of a 429 (SEP-3304).
type rateLimitedError struct {
	ID    any `json:"id"`
	Error struct {
		Code int `json:"code"`
		Data struct {
			RetryAfterMs int64  `json:"retryAfterMs"`
			Limit        int64  `json:"limit"`
			Remaining    *int64 `json:"remaining"`
			Reason       string `json:"reason"`
			ResetAt      string `json:"resetAt"`
		} `json:"data"`
	} `json:"error"`
}

func TestRateLimitUserRate(t *testing.T) {
	_, client := startAppYAML(t, rateLimitConfig(limitedBundle(t, testRateLimits), ""))
	alice := mintAccess(t, nil)
	for i := range 3 {
		resp := mustCheck(t, client, limitedCall(alice, "search_issues", fmt.Sprintf("a-%d", i)))
		wantAllow(t, fmt.Sprintf("call %d within the burst", i), resp)
		h := okHeaders(resp)
		if want := fmt.Sprintf(`"user";r=%d;`, 2-i); !strings.HasPrefix(h["ratelimit"], want) {
			t.Errorf("call %d: RateLimit = %q; want prefix %q", i, h["ratelimit"], want)
		}
		if h["ratelimit-policy"] != `"user";q=3;w=3600` {
			t.Errorf("call %d: RateLimit-Policy = %q", i, h["ratelimit-policy"])
		}
	}
	d := wantDeny(t, "fourth call", mustCheck(t, client, limitedCall(alice, "search_issues", "a-4")), 429, "rate_limited")
	checkRateLimited(t, d, 3)
	if ra, err := strconv.Atoi(d.headers["retry-after"]); err != nil || ra < 1 || ra > 1200 {
		t.Errorf("Retry-After = %q; want whole seconds within one emission interval", d.headers["retry-after"])
	}
	bob := mintAccess(t, map[string]any{"sub": "bob"})
	wantAllow(t, "another user", mustCheck(t, client, limitedCall(bob, "search_issues", "b-1")))
	bulk := mintAccess(t, map[string]any{"sub": "loader", "roles": []string{"admin", "bulk"}})
	for i := range 5 {
		wantAllow(t, fmt.Sprintf("exempt role, call %d", i), mustCheck(t, client, limitedCall(bulk, "search_issues", "c")))
	}
}

func checkRateLimited(t *testing.T, d denyView, limit int64) {
	t.Helper()
	var e rateLimitedError
	if err := json.Unmarshal([]byte(d.body), &e); err != nil {
		t.Fatalf("429 body %q: %v", d.body, err)
	}
	if e.ID != "call-1" || e.Error.Code != -32023 || e.Error.Data.RetryAfterMs <= 0 ||
		e.Error.Data.Limit != limit || e.Error.Data.Remaining == nil || e.Error.Data.Reason != d.reason {
		t.Errorf("429 body = %s; want id echoed, -32023, retryAfterMs > 0, limit %d, remaining, reason", d.body, limit)
	}
	if d.headers["ratelimit-limit"] != strconv.FormatInt(limit, 10) || d.headers["ratelimit-remaining"] == "" {
		t.Errorf("429 headers = %v; want RateLimit-Limit and RateLimit-Remaining", d.headers)
	}
}

// TestRateLimitDeniedCallsSpendNothing: calls the policy denies, and
// methods the limits do not count, leave the whole burst.
func TestRateLimitDeniedCallsSpendNothing(t *testing.T) {
	_, client := startAppYAML(t, rateLimitConfig(limitedBundle(t, testRateLimits), ""))
	carol := mintAccess(t, map[string]any{"sub": "carol", "roles": []string{"analyst"}})
	for i := range 5 {
		resp := mustCheck(t, client, limitedCall(carol, "create_issue", "d"))
		if d, _ := denyOf(resp); d.reason != "tool_not_allowed" {
			t.Fatalf("denied call %d: reason %q; want tool_not_allowed", i, d.reason)
		}
		list := mcpPost{authorization: "Bearer " + carol, body: toolsListBody}.request()
		wantAllow(t, "tools/list (not counted)", mustCheck(t, client, list))
	}
	for i := range 3 {
		wantAllow(t, fmt.Sprintf("allowed call %d after denials", i), mustCheck(t, client, limitedCall(carol, "search_issues", "d")))
	}
	wantDeny(t, "fourth allowed call", mustCheck(t, client, limitedCall(carol, "search_issues", "d")), 429, "rate_limited")
}

// TestRateLimitBudget: run_query costs 10 units (registry data) of the
// tenant's 25 a day; the budget refuses the third call with its reset time,
// and a cost the upstream reports later is charged to the same budget.
func TestRateLimitBudget(t *testing.T) {
	a, client := startAppYAML(t, rateLimitConfig(limitedBundle(t, testRateLimits), ""))
	acme := mintAccess(t, map[string]any{"sub": "ann", "tenant": "acme", "roles": []string{"admin", "bulk"}})
	wantAllow(t, "first run_query", mustCheck(t, client, limitedCall(acme, "run_query", "r-1")))
	wantAllow(t, "second run_query", mustCheck(t, client, limitedCall(acme, "run_query", "r-2")))
	d := wantDeny(t, "third run_query", mustCheck(t, client, limitedCall(acme, "run_query", "r-3")), 429, "budget_exhausted")
	checkRateLimited(t, d, 25)
	var e rateLimitedError
	_ = json.Unmarshal([]byte(d.body), &e)
	if e.Error.Data.ResetAt == "" || !strings.HasPrefix(d.headers["ratelimit"], `"tenant_budget";r=5;`) {
		t.Errorf("budget 429: resetAt %q, RateLimit %q; want the reset time and 5 units left", e.Error.Data.ResetAt, d.headers["ratelimit"])
	}
	wantAllow(t, "a 1-unit call fits the 5 left", mustCheck(t, client, limitedCall(acme, "search_issues", "r-4")))

	admin := "http://" + a.Addr("admin") + "/ratelimit/cost"
	if code, body := postCost(t, admin, `{"request_id":"r-4","cost":5}`); code != 200 || !strings.Contains(body, `"charged":4`) {
		t.Fatalf("cost report = %d %s; want 200 charged 4", code, body)
	}
	if code, _ := postCost(t, admin, `{"request_id":"r-4","cost":4}`); code != http.StatusNotFound {
		t.Errorf("second report of one request = %d; want 404", code)
	}
	if code, _ := postCost(t, admin, `{"request_id":"r-4"}`); code != http.StatusBadRequest {
		t.Errorf("report without cost = %d; want 400", code)
	}
	wantDeny(t, "after the reported cost", mustCheck(t, client, limitedCall(acme, "search_issues", "r-5")), 429, "budget_exhausted")
	globex := mintAccess(t, map[string]any{"sub": "gus", "tenant": "globex", "roles": []string{"admin", "bulk"}})
	wantAllow(t, "another tenant", mustCheck(t, client, limitedCall(globex, "run_query", "g-1")))
}

func postCost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRateLimitDecisionLog: the decision log explains a 429 — each limit's
// partition, what every call cost and what remains per user and tenant —
// while the metrics carry limit names and tools, never the user or tenant.
func TestRateLimitDecisionLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	a, client := startAppYAML(t, logConfig(path, "bundle:\n  path: "+limitedBundle(t, testRateLimits)+"\n"))
	const sub, tenant = "ann-7f3c", "acme-9d2e"
	tok := mintAccess(t, map[string]any{"sub": sub, "tenant": tenant})
	wantAllow(t, "first run_query", mustCheck(t, client, limitedCall(tok, "run_query", "dl-1")))
	wantAllow(t, "second run_query", mustCheck(t, client, limitedCall(tok, "run_query", "dl-2")))
	wantDeny(t, "third run_query", mustCheck(t, client, limitedCall(tok, "run_query", "dl-3")), 429, "budget_exhausted")
	metrics := scrape(t, a.Addr("admin"))
	if strings.Contains(metrics, sub) || strings.Contains(metrics, tenant) {
		t.Errorf("/metrics names the user or tenant:\n%s", metrics)
	}
	if err := a.Shutdown(); err != nil { // flushes the log
		t.Fatal(err)
	}
	recs := byRequestID(t, readRecords(t, path))
	userKey := "user=" + e2eIssuer + " " + sub
	for _, tc := range []struct {
		id, backend string
		user        limitRecord // the user's rate: 3 an hour
		budget      limitRecord // the tenant's 25 units a day; run_query costs 10
	}{
		{"dl-1", "local", limitRecord{true, 1, 2}, limitRecord{true, 10, 15}},
		{"dl-2", "local", limitRecord{true, 1, 1}, limitRecord{true, 10, 5}},
		{"dl-3", "local", limitRecord{true, 0, 1}, limitRecord{false, 0, 5}},
	} {
		r := recs[tc.id]
		if r == nil {
			t.Fatalf("no record for %s", tc.id)
		}
		if r["rate_limit_backend"] != tc.backend {
			t.Errorf("%s: rate_limit_backend %v; want %s", tc.id, r["rate_limit_backend"], tc.backend)
		}
		got := limitRecordsOf(t, r)
		checkLimitRecord(t, tc.id, got["user"], "rate", userKey, 3, tc.user)
		checkLimitRecord(t, tc.id, got["tenant_budget"], "budget", "tenant="+tenant, 25, tc.budget)
	}
	if r := recs["dl-3"]; r["reason"] != "budget_exhausted" || r["http_status"] != float64(429) {
		t.Errorf("dl-3: reason %v status %v; want budget_exhausted 429", r["reason"], r["http_status"])
	}
}

// limitRecord is what a decision record says of one limit.
type limitRecord struct {
	allowed         bool
	cost, remaining int64
}

// limitRecordsOf indexes a record's rate_limits by limit name.
func limitRecordsOf(t *testing.T, r map[string]any) map[string]map[string]any {
	t.Helper()
	list, _ := r["rate_limits"].([]any)
	out := map[string]map[string]any{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		out[name] = m
	}
	if len(out) != len(list) {
		t.Errorf("record %v: rate_limits %v; want one entry per limit", r["request_id"], list)
	}
	return out
}

// checkLimitRecord compares one rate_limits entry (protojson: int64 as strings).
func checkLimitRecord(t *testing.T, id string, got map[string]any, kind, key string, quota int64, want limitRecord) {
	t.Helper()
	i64 := func(v any) string { s, _ := v.(string); return s }
	if got == nil || got["kind"] != kind || got["key"] != key || got["allowed"] != want.allowed ||
		i64(got["cost"]) != strconv.FormatInt(want.cost, 10) || i64(got["remaining"]) != strconv.FormatInt(want.remaining, 10) ||
		i64(got["quota"]) != strconv.FormatInt(quota, 10) || got["reset_at"] == nil {
		t.Errorf("%s: rate_limits entry %v; want %s %q quota %d, %+v, a reset_at", id, got, kind, key, quota, want)
	}
}
