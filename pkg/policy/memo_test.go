package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// policyDirEngineOpts activates the default policies/ directory with o.
func policyDirEngineOpts(t testing.TB, o Options) *Engine {
	t.Helper()
	b, err := LoadBundleDir("../../policies")
	if err != nil {
		t.Fatalf("LoadBundleDir(policies): %v", err)
	}
	return newEngine(t, o, b)
}

// TestDecisionCacheDefaultBundleProjection: the default bundle gets a cache
// keyed on what its rules read, and that excludes what differs on every
// request (request id and time, JSON-RPC id, headers, arguments: a tool's
// arguments matter only through input.tool, which the registry derives).
func TestDecisionCacheDefaultBundleProjection(t *testing.T) {
	e := policyDirEngineOpts(t, Options{DecisionCache: 16})
	st := e.DecisionCacheStats()
	if !st.On {
		t.Fatalf("decision cache off for the default bundle: %s", st.Reason)
	}
	for _, want := range []string{"input.principal.sub", "input.principal.claims", "input.mcp.method", "input.tool.arguments_valid"} {
		if !slices.Contains(st.Paths, want) {
			t.Errorf("paths %v lack %s", st.Paths, want)
		}
	}
	for _, p := range st.Paths {
		for _, never := range []string{"input.request", "input.mcp.id", "input.mcp.arguments", "input.http.headers", "input.mcp.session_id"} {
			if p == never || strings.HasPrefix(p, never+".") {
				t.Errorf("paths %v include %s", st.Paths, p)
			}
		}
	}
}

// TestInputReads: what a rule can read, and what turns the cache off.
func TestInputReads(t *testing.T) {
	tests := []struct {
		name, rules string
		want        []string // nil: off
		why         string
	}{
		{"constant refs", `decision := {"allow": input.mcp.method == "x", "reason": input.principal.sub}`,
			[]string{"input.mcp.method", "input.principal.sub"}, ""},
		{"variable key cuts the ref", `decision := {"allow": true, "reason": input.principal.claims[data.k]}`,
			[]string{"input.principal.claims"}, ""},
		{"iteration reads the collection", `decision := {"allow": true, "reason": "r"} if { some r in input.principal.roles; r == "a" }`,
			[]string{"input.principal.roles"}, ""},
		{"object.get of input is its path", `decision := {"allow": true, "reason": object.get(input, ["principal", "sub"], "")}`,
			[]string{"input.principal.sub"}, ""},
		{"object.get of a subtree", `decision := {"allow": true, "reason": object.get(input.principal, "sub", "")}`,
			[]string{"input.principal.sub"}, ""},
		{"prefixes subsume", `decision := {"allow": input.principal.sub == "a", "reason": json.marshal(input.principal)}`,
			[]string{"input.principal"}, ""},
		{"with target is not a read", `decision := {"allow": true, "reason": r}
r := m if { m := input.mcp.method with input.request as {} }`, []string{"input.mcp.method"}, ""},
		{"aliased subtree", `decision := {"allow": true, "reason": r}
r := x.sub if { x := input.principal }`, []string{"input.principal.sub"}, ""},
		{"aliased subtree read whole", `decision := {"allow": true, "reason": r}
r := json.marshal(x) if { x := input.principal }`, []string{"input.principal"}, ""},
		{"whole input", `decision := {"allow": true, "reason": json.marshal(input)}`, nil, "whole input"},
		{"whole input through a local", `decision := {"allow": true, "reason": r}
r := json.marshal(x) if { x := input }`, nil, "whole input"},
		{"walk", `decision := {"allow": true, "reason": "r"} if { walk(input, [p, v]) }`, nil, "whole input"},
		{"object.get with a variable path", `decision := {"allow": true, "reason": object.get(input, [data.k], "")}`, nil, "whole input"},
		{"time", `decision := {"allow": time.now_ns() > 0, "reason": "r"}`, nil, "time.now_ns"},
		{"rand", `decision := {"allow": rand.intn("x", 2) == 0, "reason": "r"}`, nil, "rand.intn"},
		{"uuid", `decision := {"allow": true, "reason": uuid.rfc4122("x")}`, nil, "uuid.rfc4122"},
		{"jwt verify uses the clock", `decision := {"allow": io.jwt.decode_verify("x", {"secret": "s"})[0], "reason": "r"}`, nil, "io.jwt.decode_verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newEngine(t, Options{DecisionCache: 8}, decisionBundle(t, tt.rules)).DecisionCacheStats()
			if tt.want == nil {
				if st.On || !strings.Contains(st.Reason, tt.why) {
					t.Fatalf("stats %+v; want off because of %q", st, tt.why)
				}
				return
			}
			if !st.On || !slices.Equal(st.Paths, tt.want) {
				t.Fatalf("stats %+v; want on with paths %v", st, tt.want)
			}
		})
	}
}

// TestDecisionCacheOffBySize: size 0 keeps no cache and gives no reason.
func TestDecisionCacheOffBySize(t *testing.T) {
	e := policyDirEngineOpts(t, Options{})
	if _, err := e.Decide(context.Background(), toolsCall("search_issues", "analyst")); err != nil {
		t.Fatal(err)
	}
	if st := e.DecisionCacheStats(); st.On || st.Reason != "" || st.Hits+st.Misses != 0 {
		t.Errorf("stats %+v; want off, no reason, no lookups", st)
	}
}

// TestDecisionCacheNeverKeepsErrors: a malformed decision is a
// policy_error every time and nothing is kept.
func TestDecisionCacheNeverKeepsErrors(t *testing.T) {
	e := newEngine(t, Options{DecisionCache: 8}, decisionBundle(t, `decision := {"allow": input.mcp.method, "reason": "r"}`))
	for range 3 {
		if d, err := e.Decide(context.Background(), minimalInput()); err == nil || d.Allow {
			t.Fatalf("Decide = %+v, %v; want policy_error", d, err)
		}
	}
	if st := e.DecisionCacheStats(); st.Len != 0 || st.Hits != 0 {
		t.Errorf("stats %+v; want nothing kept, no hit", st)
	}
}

// TestDecisionCacheFreshMaps: a hit returns maps of its own, so a caller
// changing a decision cannot change the next one.
func TestDecisionCacheFreshMaps(t *testing.T) {
	e := newEngine(t, Options{DecisionCache: 8}, decisionBundle(t,
		`decision := {"allow": true, "reason": "allowed", "upstream_headers": {"x-user": input.principal.sub}}`))
	first, err := e.Decide(context.Background(), minimalInput())
	if err != nil {
		t.Fatal(err)
	}
	first.UpstreamHeaders["x-user"] = "changed"
	second, err := e.Decide(context.Background(), minimalInput())
	if err != nil || !second.Meta.Cached || second.UpstreamHeaders["x-user"] != "" {
		t.Errorf("second = %+v, %v; want a cached decision with its own headers", second, err)
	}
}

// TestDecisionCacheDifferential is the proof the cache changes no decision:
// every generated input, and variants of it, is decided by an engine
// without the cache and by one with it, and the decisions must be
// identical. Variant 1 changes only what no rule reads (a hit: it proves
// those fields do not matter); each further variant changes one field the
// policy may read (a key that left it out would hit the base input's entry
// and answer with its decision). Dropping any path from the key makes this
// test fail.
func TestDecisionCacheDifferential(t *testing.T) {
	plain := policyDirEngineOpts(t, Options{})
	cached := policyDirEngineOpts(t, Options{DecisionCache: 4096})
	ctx := context.Background()
	n := 200
	if testing.Short() {
		n = 60
	}
	var hits int
	for seed := range uint64(n) {
		for variant := range len(mutations) + 1 {
			want, werr := plain.Decide(ctx, genInput(seed, variant))
			got, gerr := cached.Decide(ctx, genInput(seed, variant))
			if got.Meta.Cached {
				hits++
			}
			if !sameDecision(want, werr, got, gerr) {
				t.Fatalf("seed %d variant %d: uncached %+v, %v; cached %+v, %v", seed, variant, want, werr, got, gerr)
			}
		}
	}
	st := cached.DecisionCacheStats()
	if hits < n || st.Misses == 0 {
		t.Fatalf("hits %d, stats %+v: the test exercised too few hits or no miss", hits, st)
	}
	t.Logf("%d decisions, %d from the cache", (len(mutations)+1)*n, hits)
}

// sameDecision compares two Decide results, ignoring how they were made.
func sameDecision(a Decision, aerr error, b Decision, berr error) bool {
	if (aerr == nil) != (berr == nil) || aerr != nil && aerr.Error() != berr.Error() {
		return false
	}
	a.Meta.Cached, b.Meta.Cached = false, false
	a.Meta.Registry, b.Meta.Registry = 0, 0
	return reflect.DeepEqual(a, b)
}

// picker draws test values.
type picker struct{ *rand.Rand }

func (p picker) one(xs ...string) string { return xs[p.IntN(len(xs))] }

func (p picker) subset(xs ...string) []string {
	if p.IntN(6) == 0 {
		return nil
	}
	var out []string
	for _, x := range xs {
		if p.IntN(3) == 0 {
			out = append(out, x)
		}
	}
	return out
}

var (
	genTools = []string{"search_issues", "get_issue", "create_issue", "update_issue", "delete_repo", "comment_issue",
		"run_query", "read_file", "list_repos", "no_such_tool"}
	genMethods = []string{"tools/call", "tools/call", "tools/call", "tools/list", "initialize", "resources/read",
		"prompts/get", "notifications/initialized", "ping", "bogus/method"}
	genRoles = []string{"admin", "analyst", "support", "viewer", "x"}
)

// mutations each change one part of an input (the first: only parts no
// rule of the default bundle reads).
var mutations = []func(in *Input, p picker){
	varyUnread,
	func(in *Input, p picker) {
		if in.MCP.Arguments != nil {
			in.MCP.Arguments["limit"] = json.Number(fmt.Sprint(p.IntN(200) - 50))
			if p.IntN(2) == 0 {
				in.MCP.Arguments["repo"] = p.one("acme/api", "bad repo!", "x/y")
			}
		}
	},
	func(in *Input, p picker) { in.Principal.Claims["jti"] = fmt.Sprint(p.Uint64()) },
	func(in *Input, p picker) { in.Principal.Claims["tenant"] = p.one("acme", "globex") },
	func(in *Input, p picker) { in.Principal.Roles = p.subset(genRoles...) },
	func(in *Input, p picker) { in.Principal.Scopes = p.subset("mcp:tools", "mcp:read", "mcp:admin") },
	func(in *Input, p picker) { in.Principal.RolesError = p.one("", "invalid_roles_claim") },
	func(in *Input, p picker) { in.Principal.Subject = p.one("alice", "bob", "") },
	func(in *Input, p picker) {
		in.Principal.Issuer = p.one("https://auth.example.test", "https://other.test")
	},
	func(in *Input, p picker) {
		in.Principal.Audience = []string{p.one("https://mcp.example.test/mcp", "https://other.example.test/mcp")}
	},
	func(in *Input, p picker) { in.Principal.TokenType = p.one("Bearer", "DPoP") },
	func(in *Input, p picker) { in.Principal.ClientID = p.one("", "cli", "agent") },
	func(in *Input, p picker) { in.Principal.Act = []Actor{{Subject: p.one("agent-1", "agent-2")}} },
	func(in *Input, p picker) { in.Principal.MayAct = &Actor{Subject: p.one("agent-1", "agent-3")} },
	func(in *Input, p picker) { in.MCP.Kind = p.one("request", "notification") },
	func(in *Input, p picker) {
		in.MCP.Method = p.one(genMethods...)
		in.MCP.KnownMethod = in.MCP.Method != "bogus/method"
	},
	func(in *Input, p picker) { in.MCP.KnownMethod = !in.MCP.KnownMethod },
	func(in *Input, p picker) { in.MCP.Revision = p.one("2025-06-18", "2025-11-25", "2026-07-28") },
	func(in *Input, p picker) {
		if in.MCP.Tool != "" {
			in.MCP.Tool = p.one(genTools...)
			in.MCP.Name = in.MCP.Tool
		}
	},
	func(in *Input, p picker) { in.HTTP.Method = p.one("POST", "GET", "DELETE") },
	func(in *Input, p picker) {
		in.Resource.ID = p.one("https://mcp.example.test/mcp", "https://elsewhere.test/mcp")
	},
	func(in *Input, p picker) {
		in.Workload = Workload{Principal: p.one("", "spiffe://cluster.local/ns/mcp/sa/gw")}
	},
	func(in *Input, p picker) {
		in.Workload.URISANs = []string{p.one("spiffe://cluster.local/ns/mcp/sa/gw", "spiffe://x/y")}
	},
}

// genInput builds a pseudo-random input over the default bundle's tools,
// roles and settings: variant 0 is the base of seed, variant i > 0 the base
// changed by mutations[i-1].
func genInput(seed uint64, variant int) *Input {
	p := picker{rand.New(rand.NewPCG(seed, 7))}
	method := p.one(genMethods...)
	in := &Input{
		HTTP: HTTP{Method: p.one("POST", "POST", "GET"), Path: "/mcp", Host: "mcp.example.test", Scheme: "https",
			Headers: map[string]string{"content-type": "application/json"}},
		MCP: MCP{Revision: p.one("2025-06-18", "2025-11-25"), Kind: p.one("request", "request", "notification"),
			Method: method, KnownMethod: method != "bogus/method", ID: json.RawMessage(fmt.Sprint(p.IntN(100)))},
		Principal: Principal{
			Subject: p.one("alice", "bob", "carol", ""), Issuer: p.one("https://auth.example.test", "https://other.test"),
			Audience: []string{p.one("https://mcp.example.test/mcp", "https://mcp.example.test/mcp", "https://other.example.test/mcp")},
			Scopes:   append(p.subset("mcp:read", "mcp:admin"), p.one("mcp:tools", "mcp:tools", "")), Roles: append(p.subset(genRoles...), p.one("admin", "analyst", "support")),
			ClientID: p.one("", "cli"), TokenType: p.one("Bearer", "Bearer", "DPoP"),
			Claims: map[string]any{"exp": json.Number("4102444800")},
		},
		Workload: Workload{Principal: p.one("", "spiffe://cluster.local/ns/mcp/sa/gw")},
		Resource: Resource{ID: p.one("https://mcp.example.test/mcp", "https://mcp.example.test/mcp", "https://elsewhere.test/mcp")},
		Request:  Request{ID: "req-1", Time: "2026-03-01T12:00:00Z"},
	}
	genPrincipalExtras(in, p)
	if p.IntN(6) == 0 { // a GET (SSE stream) or DELETE (end of session): no message
		in.HTTP.Method, in.MCP = p.one("GET", "DELETE"), MCP{Revision: in.MCP.Revision, Kind: "none"}
		method = ""
	}
	if method == "tools/call" {
		in.MCP.Name = p.one(genTools...)
		in.MCP.Tool = in.MCP.Name
		in.MCP.Arguments = genArgs(p, in.MCP.Tool)
	}
	if variant > 0 {
		mutations[variant-1](in, picker{rand.New(rand.NewPCG(seed, uint64(variant)))})
	}
	return in
}

// genPrincipalExtras adds the rarer principal fields.
func genPrincipalExtras(in *Input, p picker) {
	if p.IntN(8) == 0 {
		in.Principal.RolesError = "invalid_roles_claim"
	}
	if p.IntN(3) == 0 {
		in.Principal.Claims["tenant"] = p.one("acme", "globex")
	}
	if p.IntN(6) == 0 {
		in.Principal.Act = []Actor{{Subject: p.one("agent-1", "agent-2"), ClientID: p.one("", "agent")}}
		if p.IntN(2) == 0 {
			in.Principal.Act = append(in.Principal.Act, Actor{Subject: "agent-0"})
		}
	}
	if p.IntN(8) == 0 {
		in.Principal.MayAct = &Actor{Subject: p.one("agent-1", "agent-3")}
	}
}

// validArgs are arguments each tool of the default registry accepts.
var validArgs = map[string]map[string]any{
	"search_issues": {"query": "is:open"}, "get_issue": {"repo": "acme/api", "number": json.Number("7")},
	"create_issue": {"repo": "acme/api", "title": "t"}, "update_issue": {"repo": "acme/api", "number": json.Number("7")},
	"delete_repo": {"repo": "acme/api"}, "comment_issue": {"repo": "acme/api", "number": json.Number("7"), "body": "b"},
	"run_query": {"database": "main", "sql": "select 1"}, "read_file": {"repo": "acme/api", "path": "README.md"},
	"list_repos": {},
}

// genArgs returns arguments for tool, valid most of the time.
func genArgs(p picker, tool string) map[string]any {
	args := map[string]any{}
	for k, v := range validArgs[tool] {
		args[k] = v
	}
	if p.IntN(4) == 0 {
		args["unexpected"] = true
	}
	return args
}

// varyUnread changes what no rule of the default bundle reads.
func varyUnread(in *Input, p picker) {
	in.Request = Request{ID: fmt.Sprintf("req-%d", p.Uint64()), Time: fmt.Sprintf("2026-03-01T12:%02d:00Z", p.IntN(60))}
	in.MCP.ID = json.RawMessage(fmt.Sprintf(`"id-%d"`, p.Uint64()))
	in.MCP.SessionID = fmt.Sprintf("s-%d", p.IntN(1000))
	in.HTTP.Headers = map[string]string{"x-random": fmt.Sprint(p.Uint64()), "user-agent": "node"}
	in.HTTP.Path, in.HTTP.Host = "/mcp/"+fmt.Sprint(p.IntN(3)), fmt.Sprintf("h%d.test", p.IntN(3))
}

// TestCanonicalKeyOrderIndependent: equal values built in different orders
// encode the same; different values differently.
func TestCanonicalKeyOrderIndependent(t *testing.T) {
	a := ast.MustParseTerm(`{"b": [1, {"y": true, "x": null}], "a": "s", "c": {"k"}}`).Value
	b := ast.MustParseTerm(`{"a": "s", "c": {"k"}, "b": [1, {"x": null, "y": true}]}`).Value
	ka, ok1 := appendCanonical(nil, a)
	kb, ok2 := appendCanonical(nil, b)
	if !ok1 || !ok2 || string(ka) != string(kb) {
		t.Fatalf("keys %q, %q differ for equal values", ka, kb)
	}
	for _, other := range []string{`{"a": "s", "c": {"k"}, "b": [1, {"x": null, "y": false}]}`, `{"a": "s1", "b": [], "c": {"k"}}`,
		`{"a": "s", "b": [1.0, {"x": null, "y": true}], "c": {"k"}}`, `{"ab": "", "b": [1, {"x": null, "y": true}], "c": {"k"}}`} {
		ko, _ := appendCanonical(nil, ast.MustParseTerm(other).Value)
		if string(ko) == string(ka) {
			t.Errorf("%s encodes like %s", other, a)
		}
	}
}

// TestGoValueKey: Go values encode as their AST value does (numbers by
// the text anyValue gives them, 1 and 1.0 apart, float64 1 and the JSON
// number 1 alike), map order does not matter, and different values encode
// differently.
func TestGoValueKey(t *testing.T) {
	enc := func(v any) string {
		b, ok := appendGo(nil, v, 0)
		if !ok {
			t.Fatalf("appendGo(%v) refused", v)
		}
		if want, _ := appendCanonical(nil, anyValue(v)); string(b) != string(want) {
			t.Fatalf("appendGo(%#v) = %q; appendCanonical(anyValue) = %q", v, b, want)
		}
		return string(b)
	}
	a := map[string]any{"sub": "a", "n": json.Number("1"), "r": []any{"x", true, nil}, "o": map[string]any{"k": 1.5}}
	same := map[string]any{"o": map[string]any{"k": json.Number("1.5")}, "r": []any{"x", true, nil}, "n": 1, "sub": "a"}
	if enc(a) != enc(same) {
		t.Errorf("equal values encode differently")
	}
	seen := map[string]any{}
	for _, v := range []any{a, map[string]any{"sub": "a"}, map[string]any{"sub": "b"}, map[string]any{"sub": json.Number("1")},
		map[string]any{"sub": json.Number("1.0")}, map[string]any{"sub": []any{"a"}}, map[string]any{"su": "ba"},
		map[string]any{"sub": nil}, map[string]any{"sub": false}, map[string]any{}, map[string]any{"sub": map[string]string{}},
		map[string]any{"sub": time.Unix(1, 0).UTC()}, map[string]any{"sub": struct{ A int }{1}}} {
		k := enc(v)
		if prev, dup := seen[k]; dup {
			t.Errorf("%v and %v encode alike", prev, v)
		}
		seen[k] = v
	}
	for _, null := range []any{nil, map[string]any(nil), []string(nil), map[string]string(nil), json.Number("x")} {
		if enc(null) != "n" {
			t.Errorf("appendGo(%#v) = %q; want null", null, enc(null))
		}
	}
}
