package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// fixedClock is the injected clock of every test.
func fixedClock() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// emptyData is the smallest data document the data schema accepts.
const emptyData = `{"mcp": {}}`

// dirBundle writes files into a temporary policies/ directory and loads it
// the way LoadBundleDir does.
func dirBundle(t testing.TB, files map[string]string) *bundle.Bundle {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := LoadBundleDir(dir)
	if err != nil {
		t.Fatalf("LoadBundleDir: %v", err)
	}
	return b
}

// decisionBundle is a bundle whose decision rule has the given body.
func decisionBundle(t testing.TB, rules string) *bundle.Bundle {
	t.Helper()
	return dirBundle(t, map[string]string{
		"authz.rego": "package mcp.authz\n\n" + rules + "\n",
		"data.json":  emptyData,
	})
}

// newEngine returns an Engine with the test clock and b active. Unless a
// test sets one, the deadline is long: a loaded CI machine must not turn a
// correctness test into a timing one.
func newEngine(t testing.TB, o Options, b *bundle.Bundle) *Engine {
	t.Helper()
	o.Clock = fixedClock
	if o.Deadline == 0 {
		o.Deadline = time.Minute
	}
	e := New(o)
	if err := e.Activate(context.Background(), b); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	return e
}

// testdataEngine activates testdata/policies.
func testdataEngine(t testing.TB, o Options) *Engine {
	t.Helper()
	b, err := LoadBundleDir("testdata/policies")
	if err != nil {
		t.Fatalf("LoadBundleDir(testdata/policies): %v", err)
	}
	return newEngine(t, o, b)
}

// toolsCall is a realistic tools/call input for the testdata registry.
func toolsCall(tool string, roles ...string) *Input {
	args := map[string]any{"repo": "acme/api"}
	if tool == "search_issues" {
		args["query"] = "is:open label:bug"
	}
	return &Input{
		HTTP: HTTP{
			Method: "POST", Path: "/mcp", Host: "mcp.example.test", Scheme: "https",
			Headers: map[string]string{
				"content-type":         "application/json",
				"accept":               "application/json, text/event-stream",
				"mcp-protocol-version": "2025-11-25",
				"x-request-id":         "5f0c2b1e-7f43-4c55-9a59-1f1f63b8f7b2",
			},
		},
		MCP: MCP{
			Revision: "2025-11-25", Kind: "request", Method: "tools/call", KnownMethod: true,
			ID: []byte(`7`), Name: tool, Tool: tool,
			Arguments: args,
			SessionID: "c0ffee",
		},
		Principal: Principal{
			Subject: "alice", Issuer: "https://issuer.example.test",
			Audience: []string{"https://mcp.example.test/mcp"}, Scopes: []string{"mcp:tools"},
			Roles: roles, ClientID: "cli", TokenType: "Bearer",
			Claims: map[string]any{"sub": "alice", "tenant": "acme", "exp": 1.77e9},
		},
		Resource: Resource{ID: "https://mcp.example.test/mcp"},
		Request:  Request{ID: "5f0c2b1e-7f43-4c55-9a59-1f1f63b8f7b2", Time: "2026-03-01T12:00:00Z"},
	}
}

// minimalInput is a known non-tool request.
func minimalInput() *Input {
	return &Input{MCP: MCP{Revision: "2025-11-25", Kind: "request", Method: "tools/list", KnownMethod: true}}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  Decision
	}{
		{"minimal deny", `decision := {"allow": false, "reason": "tool_not_allowed"}`,
			Decision{Reason: "tool_not_allowed"}},
		{"allow with http_status ignored", `decision := {"allow": true, "reason": "allowed", "http_status": 403}`,
			Decision{Allow: true, Reason: "allowed", HTTPStatus: 403}},
		{"every field", `decision := {
	"allow": false, "reason": "insufficient_scope", "http_status": 403,
	"jsonrpc_error": {"code": -32003, "message": "Forbidden by policy"},
	"challenge": {"error": "insufficient_scope", "error_description": "Additional scope required", "scope": "mcp:tools mcp:admin"},
	"upstream_headers": {"x-user": "alice"},
	"response_headers": {"x-mcp-authz-hint": "step-up"},
	"dynamic_metadata": {"n": 1, "s": ["a"], "o": {"b": true, "z": null}, "set": {"x"}},
}`, Decision{
			Reason: "insufficient_scope", HTTPStatus: 403,
			RPCError:        &RPCError{Code: -32003, Message: "Forbidden by policy"},
			Challenge:       &Challenge{Error: "insufficient_scope", Description: "Additional scope required", Scope: "mcp:tools mcp:admin"},
			UpstreamHeaders: map[string]string{"x-user": "alice"},
			ResponseHeaders: map[string]string{"x-mcp-authz-hint": "step-up"},
			DynamicMetadata: map[string]any{"n": 1.0, "s": []any{"a"}, "o": map[string]any{"b": true, "z": nil}, "set": []any{"x"}},
		}},
		{"rate limits", `decision := {"allow": true, "reason": "allowed", "rate_limits": [
	{"name": "user", "key": "user=bob", "rate": {"requests": 60, "window": 60, "burst": 10}},
	{"name": "tenant_budget", "key": "tenant=acme", "budget": {"units": 1000, "window": 86400}, "cost": 5},
]}`, Decision{Allow: true, Reason: "allowed", RateLimits: []RateLimit{
			{Name: "user", Key: "user=bob", Rate: &Rate{Requests: 60, Window: 60, Burst: 10}},
			{Name: "tenant_budget", Key: "tenant=acme", Budget: &Budget{Units: 1000, Window: 86400}, Cost: 5},
		}}},
		{"reason from input", `decision := {"allow": input.mcp.known_method, "reason": "allowed"}`,
			Decision{Allow: true, Reason: "allowed"}},
		{"upstream_token", `decision := {"allow": true, "reason": "allowed", "upstream_token": {
	"audience": "https://up.example.test/mcp", "scope": "mcp:tools/call:issues/x", "ttl": 30, "claims": {"tenant": "acme"}}}`,
			Decision{Allow: true, Reason: "allowed", UpstreamToken: &UpstreamToken{Audience: "https://up.example.test/mcp",
				Scope: "mcp:tools/call:issues/x", TTL: 30, Claims: map[string]any{"tenant": "acme"}}}},
		{"upstream_token empty", `decision := {"allow": true, "reason": "allowed", "upstream_token": {}}`,
			Decision{Allow: true, Reason: "allowed", UpstreamToken: &UpstreamToken{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Options{}, decisionBundle(t, tc.rules))
			got, err := e.Decide(context.Background(), minimalInput())
			if err != nil {
				t.Fatalf("Decide() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Decision{}, "Meta")); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}
			if got.Meta.Revision == "" || got.Meta.Revision != e.Revision() {
				t.Errorf("Decide().Meta.Revision = %q; want the active revision %q", got.Meta.Revision, e.Revision())
			}
		})
	}
}

func TestDecidePolicyError(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name  string
		rules string
	}{
		{"undefined", `decision := {"allow": true, "reason": "allowed"} if input.mcp.method == "nope"`},
		{"not an object", `decision := "allow"`},
		{"array", `decision := [true]`},
		{"missing allow", `decision := {"reason": "allowed"}`},
		{"allow string", `decision := {"allow": "true", "reason": "allowed"}`},
		{"allow number", `decision := {"allow": 1, "reason": "allowed"}`},
		{"missing reason", `decision := {"allow": false}`},
		{"reason number", `decision := {"allow": false, "reason": 3}`},
		{"reason upper case", `decision := {"allow": false, "reason": "Denied"}`},
		{"reason dash", `decision := {"allow": false, "reason": "not-allowed"}`},
		{"reason leading digit", `decision := {"allow": false, "reason": "1denied"}`},
		{"reason empty", `decision := {"allow": false, "reason": ""}`},
		{"reason too long", `decision := {"allow": false, "reason": "` + long + `"}`},
		{"unknown field", `decision := {"allow": false, "reason": "x", "extra": 1}`},
		{"non-string key", `decision := {"allow": false, "reason": "x", 1: 2}`},
		{"http_status string", `decision := {"allow": false, "reason": "x", "http_status": "403"}`},
		{"http_status float", `decision := {"allow": false, "reason": "x", "http_status": 403.5}`},
		{"http_status 200", `decision := {"allow": false, "reason": "x", "http_status": 200}`},
		{"http_status null", `decision := {"allow": false, "reason": "x", "http_status": null}`},
		{"jsonrpc_error code string", `decision := {"allow": false, "reason": "x", "jsonrpc_error": {"code": "-32003", "message": "m"}}`},
		{"jsonrpc_error no message", `decision := {"allow": false, "reason": "x", "jsonrpc_error": {"code": -32003}}`},
		{"jsonrpc_error no code", `decision := {"allow": false, "reason": "x", "jsonrpc_error": {"message": "m"}}`},
		{"jsonrpc_error extra", `decision := {"allow": false, "reason": "x", "jsonrpc_error": {"code": 1, "message": "m", "data": 1}}`},
		{"challenge no error", `decision := {"allow": false, "reason": "x", "challenge": {"scope": "a"}}`},
		{"challenge quote", `decision := {"allow": false, "reason": "x", "challenge": {"error": "e", "error_description": "say \"hi\""}}`},
		{"challenge newline", `decision := {"allow": false, "reason": "x", "challenge": {"error": "e", "scope": "a\nb"}}`},
		{"header upper case", `decision := {"allow": true, "reason": "x", "upstream_headers": {"X-User": "a"}}`},
		{"header pseudo", `decision := {"allow": true, "reason": "x", "upstream_headers": {":path": "/admin"}}`},
		{"header host", `decision := {"allow": true, "reason": "x", "upstream_headers": {"host": "evil.test"}}`},
		{"header CRLF", `decision := {"allow": true, "reason": "x", "response_headers": {"x-a": "a\r\nx-b: b"}}`},
		{"header value number", `decision := {"allow": true, "reason": "x", "response_headers": {"x-a": 1}}`},
		{"metadata not object", `decision := {"allow": true, "reason": "x", "dynamic_metadata": [1]}`},
		{"metadata non-string key", `decision := {"allow": true, "reason": "x", "dynamic_metadata": {"a": {1: 2}}}`},
		{"upstream_token not object", `decision := {"allow": true, "reason": "x", "upstream_token": "mint"}`},
		{"upstream_token unknown field", `decision := {"allow": true, "reason": "x", "upstream_token": {"mode": "mint"}}`},
		{"upstream_token relative audience", `decision := {"allow": true, "reason": "x", "upstream_token": {"audience": "/mcp"}}`},
		{"upstream_token scope with quote", `decision := {"allow": true, "reason": "x", "upstream_token": {"scope": "a\"b"}}`},
		{"upstream_token empty scope", `decision := {"allow": true, "reason": "x", "upstream_token": {"scope": ""}}`},
		{"upstream_token ttl over 5 minutes", `decision := {"allow": true, "reason": "x", "upstream_token": {"ttl": 301}}`},
		{"upstream_token ttl zero", `decision := {"allow": true, "reason": "x", "upstream_token": {"ttl": 0}}`},
		{"upstream_token ttl string", `decision := {"allow": true, "reason": "x", "upstream_token": {"ttl": "60s"}}`},
		{"upstream_token reserved claim sub", `decision := {"allow": true, "reason": "x", "upstream_token": {"claims": {"sub": "root"}}}`},
		{"upstream_token reserved claim act", `decision := {"allow": true, "reason": "x", "upstream_token": {"claims": {"act": {"sub": "x"}}}}`},
		{"upstream_token claims list", `decision := {"allow": true, "reason": "x", "upstream_token": {"claims": [1]}}`},
		{"rate_limits object", `decision := {"allow": true, "reason": "x", "rate_limits": {"name": "a"}}`},
		{"rate_limit both kinds", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "a", "key": "k", "rate": {"requests": 1, "window": 1}, "budget": {"units": 1, "window": 1}}]}`},
		{"rate_limit neither kind", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "a", "key": "k"}]}`},
		{"rate_limit no name", `decision := {"allow": true, "reason": "x", "rate_limits": [{"key": "k", "rate": {"requests": 1, "window": 1}}]}`},
		{"rate_limit name not snake", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "Per User", "key": "k", "rate": {"requests": 1, "window": 1}}]}`},
		{"rate_limit zero requests", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "a", "key": "k", "rate": {"requests": 0, "window": 1}}]}`},
		{"rate_limit window too long", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "a", "key": "k", "rate": {"requests": 1, "window": 99999999}}]}`},
		{"rate_limit negative cost", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "a", "key": "k", "budget": {"units": 1, "window": 1}, "cost": -1}]}`},
		{"rate_limit unknown field", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "a", "key": "k", "rate": {"requests": 1, "window": 1, "per": "s"}}]}`},
		{"rate_limits too many", `decision := {"allow": true, "reason": "x", "rate_limits": [{"name": "a", "key": sprintf("%d", [i]), "rate": {"requests": 1, "window": 1}} | some i in numbers.range(1, 17)]}`},
		{"builtin error", `decision := {"allow": false, "reason": "x", "n": to_number(input.mcp.method)}`},
		{"conflict", "decision := {\"allow\": false, \"reason\": \"a\"}\n\ndecision := {\"allow\": false, \"reason\": \"b\"} if input.mcp.known_method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Options{}, decisionBundle(t, tc.rules))
			got, err := e.Decide(context.Background(), minimalInput())
			if r := denial.ReasonOf(err); r != denial.PolicyError {
				t.Fatalf("Decide() = %+v, %v; want reason %s", got, err, denial.PolicyError)
			}
			if got.Allow {
				t.Errorf("Decide() allowed with error %v", err)
			}
		})
	}
}

func TestDecodeResultSetCounts(t *testing.T) {
	if _, err := resultTerm(nil); !errors.Is(err, errUndefined) {
		t.Errorf("resultTerm(nil) = %v; want %v", err, errUndefined)
	}
	if _, err := resultTerm(rego.ResultSet{{}, {}}); err == nil {
		t.Errorf("resultTerm(2 results) = nil error; want an error")
	}
	notTerm := rego.ResultSet{{Expressions: []*rego.ExpressionValue{{Value: map[string]any{"allow": true, "reason": "x"}}}}}
	if _, err := resultTerm(notTerm); err == nil {
		t.Errorf("resultTerm(map) = nil error; want an error")
	}
}

func TestDecideNoPolicy(t *testing.T) {
	e := New(Options{})
	if e.Ready() || e.Revision() != "" {
		t.Fatalf("New() Ready = %v, Revision = %q; want false, \"\"", e.Ready(), e.Revision())
	}
	_, err := e.Decide(context.Background(), minimalInput())
	if r := denial.ReasonOf(err); r != denial.NoPolicy {
		t.Errorf("Decide() error = %v; want reason %s", err, denial.NoPolicy)
	}
	_, _, err = e.Explain(context.Background(), minimalInput())
	if r := denial.ReasonOf(err); r != denial.NoPolicy {
		t.Errorf("Explain() error = %v; want reason %s", err, denial.NoPolicy)
	}
}

func TestDecideNilInput(t *testing.T) {
	e := newEngine(t, Options{}, decisionBundle(t, `decision := {"allow": true, "reason": "allowed"}`))
	if _, err := e.Decide(context.Background(), nil); denial.ReasonOf(err) != denial.Internal {
		t.Errorf("Decide(nil) error = %v; want reason %s", err, denial.Internal)
	}
}

// slowRules loop over nine million pairs: far longer than any deadline here.
const slowRules = `decision := {"allow": false, "reason": "slow", "n": n}

n := count([1 | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000); i != j])`

func TestDecideDeadline(t *testing.T) {
	slow := decisionBundle(t, slowRules)
	fast := decisionBundle(t, `decision := {"allow": true, "reason": "allowed"}`)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), fixedClock())
	defer cancel2()
	tests := []struct {
		name string
		b    *bundle.Bundle
		opts Options
		ctx  context.Context
	}{
		{"slow policy, engine deadline", slow, Options{Deadline: time.Millisecond}, context.Background()},
		{"slow policy, caller deadline", slow, Options{Deadline: time.Hour}, mustTimeout(t, time.Millisecond)},
		{"cancelled context", fast, Options{}, cancelled},
		{"deadline already past", fast, Options{}, expired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, tc.opts, tc.b)
			got, err := e.Decide(tc.ctx, minimalInput())
			if r := denial.ReasonOf(err); r != denial.Deadline {
				t.Errorf("Decide() = %+v, %v; want reason %s", got, err, denial.Deadline)
			}
		})
	}
}

func mustTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestActivateRefused(t *testing.T) {
	ok := `decision := {"allow": false, "reason": "x"}`
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error
	}{
		{"http.send without network", map[string]string{"authz.rego": "package mcp.authz\n\n" + ok +
			"\n\nr := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"})\n", "data.json": emptyData}, "http.send"},
		{"net.lookup_ip_addr without network", map[string]string{"authz.rego": "package mcp.authz\n\n" + ok +
			"\n\nr := net.lookup_ip_addr(\"localhost\")\n", "data.json": emptyData}, "net.lookup_ip_addr"},
		{"input field that does not exist", map[string]string{"authz.rego": "package mcp.authz\n\n" + ok +
			"\n\npost if input.http.methd == \"POST\"\n", "data.json": emptyData}, "methd"},
		{"input field of the wrong type", map[string]string{"authz.rego": "package mcp.authz\n\n" + ok +
			"\n\nn := input.mcp.known_method + 1\n", "data.json": emptyData}, "rego_type_error"},
		{"no decision rule", map[string]string{"authz.rego": "package mcp.authz\n\nother := 1\n", "data.json": emptyData},
			"no rule for data.mcp.authz.decision"},
		{"compile error", map[string]string{"authz.rego": "package mcp.authz\n\ndecision := x\n", "data.json": emptyData}, "unsafe"},
		{"data against schema", map[string]string{"authz.rego": "package mcp.authz\n\n" + ok + "\n",
			"data.json": `{"mcp": {"settings": {"require_tenant": "yes"}}}`}, "data.schema.json"},
		{"unknown data key", map[string]string{"authz.rego": "package mcp.authz\n\n" + ok + "\n",
			"data.json": `{"mcp": {"rolez": {}}}`}, "data.schema.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Options{Clock: fixedClock})
			err := e.Activate(context.Background(), dirBundle(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Activate() = %v; want an error mentioning %q", err, tc.want)
			}
			if e.Ready() {
				t.Errorf("Ready() = true after a refused bundle")
			}
		})
	}
}

func TestActivateNetworkEnabled(t *testing.T) {
	rules := `decision := {"allow": false, "reason": "x"}

r := http.send({"method": "GET", "url": "http://127.0.0.1:1"})`
	e := New(Options{EnableNetwork: true, Clock: fixedClock})
	if err := e.Activate(context.Background(), decisionBundle(t, rules)); err != nil {
		t.Fatalf("Activate() with EnableNetwork = %v; want nil", err)
	}
}

func TestActivateRegistryError(t *testing.T) {
	files := map[string]string{
		"authz.rego": "package mcp.authz\n\ndecision := {\"allow\": false, \"reason\": \"x\"}\n",
		"data.json":  emptyData,
		"mcp/servers/issues/data.json": `{"resource": "https://mcp.example.test/mcp", "tools": {"t": {"sha256": "` +
			strings.Repeat("0", 64) + `", "manifest": {"name": "t"}}}}`,
	}
	e := New(Options{Clock: fixedClock})
	err := e.Activate(context.Background(), dirBundle(t, files))
	if err == nil || !strings.Contains(err.Error(), "registry") {
		t.Fatalf("Activate(hash mismatch) = %v; want a registry error", err)
	}
}

func TestActivateKeepsPrevious(t *testing.T) {
	good := decisionBundle(t, `decision := {"allow": true, "reason": "allowed"}`)
	good.Manifest.Revision = "good"
	e := newEngine(t, Options{}, good)
	bad := decisionBundle(t, `decision := {"allow": true, "reason": "allowed"}

x if input.nope`)
	if err := e.Activate(context.Background(), bad); err == nil {
		t.Fatal("Activate(bad) = nil; want an error")
	}
	if got := e.Revision(); got != "good" {
		t.Errorf("Revision() = %q after a refused bundle; want %q", got, "good")
	}
	if err := e.Activate(context.Background(), nil); err == nil {
		t.Error("Activate(nil) = nil; want an error")
	}
	if d, err := e.Decide(context.Background(), minimalInput()); err != nil || !d.Allow {
		t.Errorf("Decide() = %+v, %v; want the previous revision's allow", d, err)
	}
}

func TestConcurrentSwap(t *testing.T) {
	rev := func(r string) *bundle.Bundle {
		b := decisionBundle(t, fmt.Sprintf(`decision := {"allow": true, "reason": %q}`, r))
		b.Manifest.Revision = r
		return b
	}
	a, b := rev("rev_a"), rev("rev_b")
	e := newEngine(t, Options{}, a)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := e.Decide(ctx, minimalInput())
				if err != nil || (d.Reason != "rev_a" && d.Reason != "rev_b") {
					errs <- fmt.Errorf("Decide() = %+v, %v; want rev_a or rev_b", d, err)
					return
				}
			}
		})
	}
	for i := range 20 {
		next := a
		if i%2 == 0 {
			next = b
		}
		if err := e.Activate(ctx, next); err != nil {
			t.Errorf("Activate() = %v", err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.Revision(); got != "rev_a" {
		t.Errorf("Revision() = %q; want the last activated, rev_a", got)
	}
}

type driftAll struct{}

func (driftAll) Drifted(string, string) bool { return true }

func TestDecideEnrichesFromRegistry(t *testing.T) {
	tests := []struct {
		name       string
		in         *Input
		opts       Options
		wantServer string
		wantTool   *Tool
		wantReason string
	}{
		{"tools/call approved", toolsCall("search_issues", "analyst"), Options{}, "issues",
			&Tool{ID: "issues/search_issues", Registered: true, Approved: true, ArgumentsValid: true}, "allowed"},
		{"tools/call not granted", toolsCall("delete_repo", "analyst"), Options{}, "issues",
			&Tool{ID: "issues/delete_repo", Registered: true, Approved: true, ArgumentsValid: true}, "tool_not_allowed"},
		{"tools/call not registered", toolsCall("nope", "admin"), Options{}, "issues",
			&Tool{ID: "issues/nope"}, "tool_not_registered"},
		{"tools/call drifted", toolsCall("search_issues", "analyst"), Options{Drift: driftAll{}}, "issues",
			&Tool{ID: "issues/search_issues", Registered: true, Approved: true, Drifted: true, DriftReason: "changed", ArgumentsValid: true}, "allowed"},
		{"not a tool call", minimalInput(), Options{}, "", nil, "allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := testdataEngine(t, tc.opts)
			d, err := e.Decide(context.Background(), tc.in)
			if err != nil {
				t.Fatalf("Decide() error = %v", err)
			}
			if tc.in.Resource.Server != tc.wantServer {
				t.Errorf("Resource.Server = %q; want %q", tc.in.Resource.Server, tc.wantServer)
			}
			if tc.wantTool != nil {
				tc.wantTool.ArgumentsError = tc.in.Tool.ArgumentsError
			}
			if diff := cmp.Diff(tc.wantTool, tc.in.Tool); diff != "" {
				t.Errorf("Tool mismatch (-want +got):\n%s", diff)
			}
			if d.Reason != tc.wantReason {
				t.Errorf("Decide().Reason = %q; want %q", d.Reason, tc.wantReason)
			}
		})
	}
}

func TestDecideSetsRequestTime(t *testing.T) {
	e := newEngine(t, Options{}, decisionBundle(t, `decision := {"allow": true, "reason": "allowed", "dynamic_metadata": {"t": input.request.time, "now": time.now_ns()}}`))
	in := minimalInput()
	d, err := e.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide() error = %v", err)
	}
	want := fixedClock().Format(time.RFC3339Nano)
	if in.Request.Time != want || d.DynamicMetadata["t"] != want {
		t.Errorf("request.time = %q (policy saw %v); want %q", in.Request.Time, d.DynamicMetadata["t"], want)
	}
	if got, wantNs := d.DynamicMetadata["now"], float64(fixedClock().UnixNano()); got != wantNs {
		t.Errorf("time.now_ns() = %v; want the injected clock %v", got, wantNs)
	}
}

func TestExplain(t *testing.T) {
	e := testdataEngine(t, Options{})
	d, lines, err := e.Explain(context.Background(), toolsCall("search_issues", "analyst"))
	if err != nil || !d.Allow {
		t.Fatalf("Explain() = %+v, %v; want allow", d, err)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"rule data.mcp.authz.decision", "rule data.mcp.authz.granted", "authz.rego:"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Explain() lines do not mention %q:\n%s", want, joined)
		}
	}
}

// BenchmarkDecide decides an allowed tools/call (registry check, argument
// validation, every policy concern) against the product policies/ and the
// small testdata policy.
func BenchmarkDecide(b *testing.B) {
	for name, dir := range map[string]string{"product": policiesDir, "testdata": testdataPolicies} {
		b.Run(name, func(b *testing.B) {
			bundle, err := LoadBundleDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			e := newEngine(b, Options{}, bundle)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				d, err := e.Decide(ctx, toolsCall("search_issues", "analyst"))
				if err != nil || !d.Allow {
					b.Fatalf("Decide() = %+v, %v; want allow", d, err)
				}
			}
		})
	}
}

// TestActivateLogsLegacyPinsOnce: a bundle pinned with the deprecated hex
// sha256 still activates, with exactly one deprecation line in the log.
func TestActivateLogsLegacyPinsOnce(t *testing.T) {
	var buf bytes.Buffer
	e := testdataEngine(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if !e.Ready() {
		t.Fatal("legacy-pinned bundle did not activate")
	}
	if n := strings.Count(buf.String(), "deprecated: registry pins in the hex sha256 form"); n != 1 {
		t.Errorf("log has %d deprecation lines; want 1:\n%s", n, buf.String())
	}
}

// TestDecideAnnotationsFromPin: input.tool.annotations are the pinned
// manifest's boolean hints.
func TestDecideAnnotationsFromPin(t *testing.T) {
	e := policyDirEngine(t)
	in := toolsCall("delete_repo", "admin")
	if _, err := e.Decide(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false}
	if in.Tool == nil || !maps.Equal(in.Tool.Annotations, want) {
		t.Errorf("Tool.Annotations = %v; want %v", in.Tool, want)
	}
}

// policyDirEngine activates the default policies/ directory.
func policyDirEngine(t testing.TB) *Engine {
	t.Helper()
	b, err := LoadBundleDir("../../policies")
	if err != nil {
		t.Fatalf("LoadBundleDir(policies): %v", err)
	}
	return newEngine(t, Options{}, b)
}
