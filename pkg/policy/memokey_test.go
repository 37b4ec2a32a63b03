package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// probePaths reach every member of the input document, below it, past its
// leaves and beside it: each kind of step the key walk takes.
var probePaths = refs(
	"input.http", "input.http.headers", `input.http.headers["content-type"]`, "input.http.headers.missing",
	"input.http.headers.x.y", "input.http.method.x", "input.mcp", "input.mcp.id", "input.mcp.id.x",
	"input.mcp.arguments", "input.mcp.arguments.repo", "input.mcp.arguments.a.b", "input.mcp.arguments.l[0]",
	`input.mcp.arguments["ключ"]`, "input.mcp.arguments[1]", "input.mcp.name", "input.mcp.session_id",
	"input.mcp.known_method", "input.principal", "input.principal.claims", "input.principal.claims.tenant",
	"input.principal.claims.o.k", "input.principal.claims.o.k.z", "input.principal.claims.roles[0]",
	"input.principal.claims.t.x", "input.principal.aud[0]", "input.principal.act", "input.principal.act[0].sub",
	"input.principal.may_act", "input.principal.may_act.sub", "input.principal.may_act.iss",
	"input.principal.client_id", "input.principal.roles_error", "input.principal[1]", "input.workload",
	"input.workload.uri_sans", "input.workload.principal", "input.resource", "input.resource.server",
	"input.tool", "input.tool.annotations", "input.tool.annotations.readOnlyHint", "input.tool.annotations.x.y",
	"input.tool.drift_reason", "input.tool.id", "input.request", "input.request.id", "input.list",
	"input.list.tools", "input.list.tools.t.approved", "input.output.result.content", "input.output.tool",
	"input.connections", "input.connections.github.connected", "input.connections.github.x", "input.nope",
)

// refs parses references.
func refs(ss ...string) []ast.Ref {
	out := make([]ast.Ref, len(ss))
	for i, s := range ss {
		out[i] = ast.MustParseRef(s)
	}
	return out
}

// defaultPaths are the read paths of the default bundle.
func defaultPaths(t testing.TB) []ast.Ref {
	t.Helper()
	return policyDirEngineOpts(t, Options{DecisionCache: 8}).cur.Load().memo.paths
}

// keyCheck compares the key walk with the projection, path by path and
// for all paths at once, and returns the keys of in: the new one, and the
// old one (nil when not kept).
func keyCheck(t testing.TB, paths []ast.Ref, in *Input) (newKey, old []byte) {
	t.Helper()
	m := &memo{paths: paths}
	got, ok := m.key(nil, in)
	want, wok := projectionKey(paths, in)
	if ok && (!wok || !bytes.Equal(got, want)) {
		for _, p := range paths {
			g, _ := (&memo{paths: []ast.Ref{p}}).key(nil, in)
			w, _ := projectionKey([]ast.Ref{p}, in)
			if !bytes.Equal(g, w) {
				t.Fatalf("key at %v = %q; the projection is %q (input %s)", p, g, w, inputJSON(in))
			}
		}
		t.Fatalf("key = %q; the projection is %q", got, want)
	}
	if !ok {
		got = nil
	}
	if old, ok = oldKey(paths, in); !ok {
		old = nil
	}
	return got, old
}

// inputJSON is in for a failure message.
func inputJSON(in *Input) string {
	b, _ := json.Marshal(in)
	return string(b)
}

// pairCheck: inputs the old key told alike stay alike (the hit rate is
// kept), and the key tells two inputs apart exactly when their
// projections differ.
func pairCheck(t testing.TB, paths []ast.Ref, ins []*Input) {
	t.Helper()
	type keys struct{ k, old, proj []byte }
	ks := make([]keys, len(ins))
	for i, in := range ins {
		ks[i].k, ks[i].old = keyCheck(t, paths, in)
		ks[i].proj, _ = projectionKey(paths, in)
	}
	for i := range ks {
		for j := range i {
			a, b := ks[i], ks[j]
			if a.k == nil || b.k == nil {
				continue
			}
			sameKey, sameProj := bytes.Equal(a.k, b.k), bytes.Equal(a.proj, b.proj)
			if sameKey != sameProj {
				t.Fatalf("inputs %d, %d: same key %v, same projection %v", i, j, sameKey, sameProj)
			}
			if a.old != nil && b.old != nil && bytes.Equal(a.old, b.old) && !sameKey {
				t.Fatalf("inputs %d, %d: the old key hit, the new one misses", i, j)
			}
		}
	}
}

// mixInputs reads testdata/memo/mix-inputs.json: the inputs Check builds
// for the fixture mix and its variants (kept current by test/e2e's
// TestMixInputsGolden). Each call decodes fresh inputs (Decide completes
// them in place).
func mixInputs(t testing.TB) []*Input {
	t.Helper()
	b, err := os.ReadFile("testdata/memo/mix-inputs.json")
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		t.Fatal(err)
	}
	out := make([]*Input, len(raws))
	for i, r := range raws {
		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber() // as identity decodes claims and mcp arguments
		if err := d.Decode(&out[i]); err != nil {
			t.Fatalf("mix input %d: %v", i, err)
		}
	}
	return out
}

// TestMemoKeyMatchesProjection: on the fixture mix's inputs (as Check
// builds them and as Decide completes them), the generated corpus and
// edge cases, the key walk writes exactly the bytes appendAt writes over
// inputValue, for the default bundle's paths and the probe paths; and
// pairs of inputs share a key exactly when they share the projection.
func TestMemoKeyMatchesProjection(t *testing.T) {
	ins := mixInputs(t)
	e := policyDirEngine(t)
	for _, in := range mixInputs(t) { // completed: tool, resource.server
		_, _ = e.Decide(context.Background(), in) // a deny still completes in
		ins = append(ins, in)
	}
	for seed := range uint64(40) {
		for variant := range len(mutations) + 1 {
			ins = append(ins, genInput(seed, variant))
		}
	}
	ins = append(ins, edgeInputs()...)
	for _, paths := range [][]ast.Ref{defaultPaths(t), probePaths} {
		pairCheck(t, paths, ins) // the encoding is self-delimiting: equal keys are equal per path
	}
}

// edgeInputs differ from minimalInput in one way each that a key could get
// wrong: absent against empty, number text, unicode, nesting, the rare
// members.
func edgeInputs() []*Input {
	var out []*Input
	for _, f := range edgeMutations {
		in := minimalInput()
		f(in)
		out = append(out, in)
	}
	return out
}

var edgeMutations = []func(*Input){
	func(*Input) {},
	func(in *Input) { in.HTTP.Headers = map[string]string{} },
	func(in *Input) { in.HTTP.Headers = map[string]string{"content-type": "a", "ключ": "é"} },
	func(in *Input) { in.MCP.Arguments = map[string]any{} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"repo": nil} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any{"b": json.Number("1")}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any{"b": json.Number("1.0")}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any{"b": 1.0}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any{"b": 1}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any{"b": int64(1)}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any{"b": json.Number("x")}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any{"b": json.Number("1e999")}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": map[string]any(nil)} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"a": []any{"b"}, "l": []any{json.Number("1")}} },
	func(in *Input) { in.MCP.Arguments = map[string]any{"ключ": "значение", "1": true} },
	func(in *Input) {
		in.MCP.Arguments = map[string]any{"t": time.Unix(0, 5).UTC(), "r": json.RawMessage(`{"x":1}`)}
	},
	func(in *Input) {
		in.MCP.Arguments = map[string]any{"a": map[string]string{"b": "c"}, "s": []string(nil)}
	},
	func(in *Input) { in.MCP.ID = json.RawMessage(`1`) },
	func(in *Input) { in.MCP.ID = json.RawMessage(` 1.0 `) },
	func(in *Input) { in.MCP.ID = json.RawMessage(`"1"`) },
	func(in *Input) { in.MCP.ID = json.RawMessage(`"\u00e9"`) },
	func(in *Input) { in.MCP.Name, in.MCP.Tool, in.MCP.SessionID = "n", "t", "s" },
	func(in *Input) { in.Principal.Claims = map[string]any{} },
	func(in *Input) { in.Principal.Claims = map[string]any{"tenant": "acme", "roles": []any{"a"}} },
	func(in *Input) {
		in.Principal.Claims = map[string]any{"o": map[string]any{"k": 1.5}, "exp": json.Number("1")}
	},
	func(in *Input) {
		in.Principal.Claims = map[string]any{"o": map[string]any{"k": json.Number("1.5")}, "exp": 1.0}
	},
	func(in *Input) { in.Principal.Claims = map[string]any{"t": struct{ X int }{1}} },
	func(in *Input) {
		in.Principal.Audience, in.Principal.Roles, in.Principal.Scopes = []string{}, []string{}, []string{}
	},
	func(in *Input) { in.Principal.Audience, in.Principal.Roles = []string{"a"}, []string{"admin", "x"} },
	func(in *Input) { in.Principal.Act = []Actor{} },
	func(in *Input) {
		in.Principal.Act = []Actor{{Subject: "a", Issuer: "i"}, {Subject: "b", ClientID: "c"}}
	},
	func(in *Input) { in.Principal.MayAct = &Actor{} },
	func(in *Input) { in.Principal.MayAct = &Actor{Subject: "a", Issuer: "i", ClientID: "c"} },
	func(in *Input) { in.Principal.ClientID, in.Principal.RolesError = "c", "invalid_roles_claim" },
	func(in *Input) { in.Workload = Workload{Principal: "spiffe://x", URISANs: []string{"spiffe://x"}} },
	func(in *Input) { in.Workload.URISANs = []string{} },
	func(in *Input) { in.Resource = Resource{ID: "r", Server: "issues"} },
	func(in *Input) { in.Tool = &Tool{} },
	func(in *Input) {
		in.Tool = &Tool{ID: "a/b", Registered: true, Approved: true, Drifted: true, DriftReason: "changed",
			ArgumentsValid: true, ArgumentsError: "/x", Annotations: map[string]bool{"readOnlyHint": true}}
	},
	func(in *Input) { in.Tool = &Tool{Annotations: map[string]bool{}} },
	func(in *Input) { in.Request = Request{ID: "r", Time: "t"} },
	func(in *Input) { in.List = &List{Method: "tools/list", Tools: map[string]Tool{"t": {Approved: true}}} },
	func(in *Input) { in.List = &List{Method: "prompts/list", Names: []string{"p"}} },
	func(in *Input) { in.Output = &Output{Tool: "a/b", Result: map[string]any{"content": []any{}}} },
	func(in *Input) { in.Connections = map[string]Connection{} },
	func(in *Input) {
		in.Connections = map[string]Connection{"github": {Connected: true, Scopes: []string{"repo"}}}
	},
}

// TestDecisionCacheMixDifferential: on the fixture mix's inputs the cached
// engine decides as the plain one, the first time (misses) and the second
// (hits).
func TestDecisionCacheMixDifferential(t *testing.T) {
	plain := policyDirEngineOpts(t, Options{})
	cached := policyDirEngineOpts(t, Options{DecisionCache: 4096})
	ctx := context.Background()
	for round := range 2 {
		wants, gots := mixInputs(t), mixInputs(t)
		for i := range wants {
			want, werr := plain.Decide(ctx, wants[i])
			got, gerr := cached.Decide(ctx, gots[i])
			if !sameDecision(want, werr, got, gerr) {
				t.Fatalf("round %d input %d: uncached %+v, %v; cached %+v, %v", round, i, want, werr, got, gerr)
			}
		}
	}
	if st := cached.DecisionCacheStats(); st.Hits < uint64(len(mixInputs(t))) || st.Misses == 0 {
		t.Fatalf("stats %+v: want every second-round decision from the cache", st)
	}
}

// FuzzMemoKeyMatchesProjection builds two inputs from the fuzzer's bytes,
// the second differing from the first in one byte of its recipe, and
// requires: the key walk equals the projection (default and probe paths),
// the keys agree exactly when the projections do, the old key's hits are
// kept, and the cached engine decides both as the plain one does.
func FuzzMemoKeyMatchesProjection(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 64 {
		seed := make([]byte, 48+r.IntN(48))
		for i := range seed {
			seed[i] = byte(r.UintN(256))
		}
		f.Add(seed, uint16(r.UintN(96)))
	}
	def := defaultPaths(f)
	plain := policyDirEngineOpts(f, Options{})
	cached := policyDirEngineOpts(f, Options{DecisionCache: 64})
	f.Fuzz(func(t *testing.T, recipe []byte, flip uint16) {
		other := bytes.Clone(recipe)
		if len(other) > 0 {
			other[int(flip)%len(other)] ^= byte(flip>>8) | 1
		}
		for _, paths := range [][]ast.Ref{def, probePaths} {
			pairCheck(t, paths, []*Input{fuzzInput(recipe), fuzzInput(other)})
		}
		for _, rc := range [][]byte{recipe, other, recipe} {
			want, werr := plain.Decide(context.Background(), fuzzInput(rc))
			got, gerr := cached.Decide(context.Background(), fuzzInput(rc))
			if !sameDecision(want, werr, got, gerr) {
				t.Fatalf("uncached %+v, %v; cached %+v, %v", want, werr, got, gerr)
			}
		}
	})
}
