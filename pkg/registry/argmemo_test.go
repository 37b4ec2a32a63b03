package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// memoPair is one registry data loaded twice: with the argument memo (the
// fast path) and without it (the reference).
type memoPair struct{ cached, plain *Registry }

func loadPair(t testing.TB, data map[string]any, opts Options) memoPair {
	t.Helper()
	cached, err := Load(data, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	opts.ArgCacheEntries = -1
	plain, err := Load(data, opts)
	if err != nil {
		t.Fatalf("Load (memo off): %v", err)
	}
	if plain.args != nil || cached.args == nil {
		t.Fatalf("memo on = %v, off = %v; want on and off", cached.args != nil, plain.args != nil)
	}
	return memoPair{cached, plain}
}

// defaultData is data.mcp of the default bundle's registry.
func defaultData(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"servers": map[string]any{"issues": decode(t, string(b))}}
}

// same checks server/tool with args on both registries twice (a miss,
// then a hit on the cached one) and requires identical verdicts.
func (p memoPair) same(t *testing.T, server, tool string, args map[string]any) Verdict {
	t.Helper()
	want := p.plain.Check(server, tool, args, nil)
	for i := range 2 {
		if got := p.cached.Check(server, tool, args, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("call %d: cached Check(%s/%s, %v) = %+v; uncached %+v", i, server, tool, args, got, want)
		}
	}
	return want
}

// mutations returns args and variants of it that fail or pass in other
// ways: each member dropped, retyped (1 and 1.0 among them), doubled by a
// case variant, and an extra member.
func mutations(args map[string]any) []map[string]any {
	out := []map[string]any{args, nil, {}}
	values := []any{"x", json.Number("1"), json.Number("1.0"), json.Number("-1"), json.Number("1e2"),
		true, nil, []any{}, []any{"a", json.Number("2")}, map[string]any{}, map[string]any{"q": "r"}}
	for _, k := range slices.Sorted(maps.Keys(args)) {
		drop := maps.Clone(args)
		delete(drop, k)
		out = append(out, drop)
		for _, v := range values {
			m := maps.Clone(args)
			m[k] = v
			out = append(out, m)
		}
		variant := maps.Clone(args)
		variant[strings.ToUpper(k)] = args[k]
		out = append(out, variant)
	}
	extra := maps.Clone(args)
	if extra == nil {
		extra = map[string]any{}
	}
	extra["zz"] = "secret-value"
	return append(out, extra)
}

// TestArgMemoMatchesValidationOnFixtures: over every tools/call of the
// fixture mix and the SDK traffic, and mutations of each, the memoised
// verdict equals the uncached one, on the miss and on the hit.
func TestArgMemoMatchesValidationOnFixtures(t *testing.T) {
	p := loadPair(t, defaultData(t), Options{})
	invalid := 0
	for fixture, bodies := range fixtureBodies(t) {
		for i, c := range callsIn(t, bodies) {
			for j, args := range mutations(c.args) {
				t.Run(fmt.Sprintf("%s/%d/%s/%d", fixture, i, c.name, j), func(t *testing.T) {
					if !p.same(t, "issues", c.name, args).ArgumentsValid {
						invalid++
					}
				})
			}
		}
	}
	st := p.cached.ArgCacheStats()
	if invalid == 0 || st.Hits == 0 || st.Misses == 0 {
		t.Errorf("invalid verdicts %d, stats %+v; want both outcomes cached and hit", invalid, st)
	}
}

// TestArgMemoTable: valid and invalid arguments, case variants, 1 vs 1.0
// against an integer, nested members, nil vs {}: cached equals uncached.
func TestArgMemoTable(t *testing.T) {
	p := loadPair(t, testData(t), Options{})
	tests := []struct {
		tool, args, wantErr string
	}{
		{"issues/search", `{"query":"bug","limit":5}`, ""},
		{"issues/search", `{"query":"bug","limit":5.0}`, ""},
		{"issues/search", `{"query":"bug","limit":1}`, ""},
		{"issues/search", `{"query":"bug","limit":1.0}`, ""},
		{"issues/search", `{"query":"bug","limit":1.5}`, "/limit: type"},
		{"issues/search", `{"query":"bug","limit":"1"}`, "/limit: type"},
		{"issues/search", `{"query":"bug","limit":1e300}`, "/limit: maximum"},
		{"issues/search", `{}`, "(root): required"},
		{"issues/search", ``, "(root): required"},
		{"issues/search", `{"query":"x","filter":{"state":"open"}}`, ""},
		{"issues/search", `{"query":"x","filter":{"state":"gone"}}`, "/filter/state: enum"},
		{"issues/search", `{"query":"x","filter":{"zz":{"a":[1,{"b":null}]}}}`, "/filter/zz: additionalProperties"},
		{"issues/search", `{"query":"x","tags":["a","b"]}`, ""},
		{"issues/search", `{"query":"x","tags":["a",["b"]]}`, "/tags/1: type"},
		{"wiki/open", `{"path":"/ok"}`, ""},
		{"wiki/open", `{"PATH":"/etc"}`, "/PATH: case"},
		{"wiki/open", `{"Path":"/a","PATH":"/b","pATH":"/c"}`, "/PATH: case"},
		{"wiki/open", `{"opts":{"MODE":"x"},"Path":"/a"}`, "/Path: case"},
		{"wiki/open", `{"list":[{"target":"a"},{"TARGET":"b"},{"Target":"c"}]}`, "/list/1/TARGET: case"},
		{"wiki/open", `{"id":"a","ID":"b"}`, ""},
		{"wiki/page", `{"anything":{"deep":[1,2,{"x":true}]}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+tt.args, func(t *testing.T) {
			var args map[string]any
			if tt.args != "" {
				args = decode(t, tt.args)
			}
			server, tool, _ := splitID(tt.tool)
			v := p.same(t, server, tool, args)
			if v.ArgumentsError != tt.wantErr || v.ArgumentsValid != (tt.wantErr == "") {
				t.Errorf("Check(%s, %s) = %v, %q; want error %q", tt.tool, tt.args, v.ArgumentsValid, v.ArgumentsError, tt.wantErr)
			}
		})
	}
}

// TestCaseVariantIsDeterministic: with several case variants the error
// names the same one (the first pointer) whatever the map order, so a
// kept result equals any fresh validation.
func TestCaseVariantIsDeterministic(t *testing.T) {
	p := loadPair(t, testData(t), Options{})
	const doc = `{"pATH":1,"Path":2,"PATH":3,"Kelvin":4,"opts":{"Mode":5,"MODE":6},"iD":7,"PARAMS":8}`
	for range 50 {
		v := p.same(t, "wiki", "open", decode(t, doc))
		if v.ArgumentsError != "/Kelvin: case" {
			t.Fatalf("Check(%s) error = %q; want /Kelvin: case", doc, v.ArgumentsError)
		}
	}
}

// TestArgMemoKeys: the key tells apart what validation may tell apart (type,
// number text, member boundaries, nesting, tool) and equates nil with {}.
func TestArgMemoKeys(t *testing.T) {
	key := func(seq uint64, doc string) string {
		var args map[string]any
		if doc != "" {
			args = decode(t, doc)
		}
		k, ok := argKey(nil, seq, args)
		if !ok {
			t.Fatalf("argKey(%s) not cacheable", doc)
		}
		return string(k)
	}
	distinct := []string{`{"a":1}`, `{"a":1.0}`, `{"a":"1"}`, `{"a":true}`, `{"a":null}`, `{"a":[]}`, `{"a":{}}`,
		`{"a":[1]}`, `{"a":["1"]}`, `{"a":[[]]}`, `{"ab":"c"}`, `{"a":"bc"}`, `{"a":{"b":"c"}}`, `{"a":[{"b":"c"}]}`,
		`{"a":1,"b":2}`, `{"a":2,"b":1}`, `{"a":-0}`, `{"a":0}`, `{"a":1e1}`, `{"a":10}`, `{}`,
		`{"a":{"b":1},"c":2}`, `{"a":{"b":1,"c":2}}`, `{"a":[[1],2]}`, `{"a":[[1,2]]}`}
	seen := map[string]string{}
	for _, d := range distinct {
		k := key(0, d)
		if prev, dup := seen[k]; dup {
			t.Errorf("argKey(%s) = argKey(%s)", d, prev)
		}
		seen[k] = d
	}
	if key(0, `{"b":2,"a":1}`) != key(0, `{"a":1,"b":2}`) {
		t.Error("member order changes the key")
	}
	if key(0, ``) != key(0, `{}`) {
		t.Error("nil arguments and {} have different keys")
	}
	if key(1, `{}`) == key(2, `{}`) || key(1, `{"a":1}`) == key(12, `{"a":1}`) {
		t.Error("two tools share a key")
	}
	huge := map[string]any{"s": strings.Repeat("x", maxArgKeyBytes)}
	if _, ok := argKey(nil, 0, huge); ok {
		t.Error("arguments over maxArgKeyBytes are cacheable")
	}
	if _, ok := argKey(nil, 0, map[string]any{"f": func() {}}); ok {
		t.Error("an unknown value type is cacheable")
	}
}

// TestArgMemoUncacheableValidatedEveryTime: arguments too large for a key
// are validated uncached (same verdict) and counted as skipped.
func TestArgMemoUncacheableValidatedEveryTime(t *testing.T) {
	p := loadPair(t, testData(t), Options{})
	big := map[string]any{"query": strings.Repeat("q", maxArgKeyBytes)}
	v := p.same(t, "issues", "search", big)
	if v.ArgumentsError != "/query: maxLength" {
		t.Errorf("Check(big) error = %q; want /query: maxLength", v.ArgumentsError)
	}
	if st := p.cached.ArgCacheStats(); st.Skipped != 2 || st.Hits+st.Misses != 0 || st.Len != 0 {
		t.Errorf("stats %+v; want 2 skipped, nothing kept", st)
	}
}

// TestArgMemoBounds: the memo keeps at most its entries and key bytes, and
// stays correct while it evicts.
func TestArgMemoBounds(t *testing.T) {
	const budget = 300
	p := loadPair(t, testData(t), Options{ArgCacheEntries: 8, ArgCacheBytes: budget})
	for i := range 200 {
		args := decode(t, fmt.Sprintf(`{"query":"q%d%s","limit":%d}`, i, strings.Repeat("z", i%40), i%150))
		p.same(t, "issues", "search", args)
		st := p.cached.ArgCacheStats()
		if st.Len > 8 || st.Bytes > budget || st.Bytes < 0 {
			t.Fatalf("after %d: stats %+v; want at most 8 entries and %d bytes", i, st, budget)
		}
	}
	if st := p.cached.ArgCacheStats(); st.Len == 0 || st.Hits == 0 {
		t.Errorf("stats %+v; want results kept and hit", st)
	}
}

// TestArgMemoPerRevision: the memo belongs to one Registry: a revision
// whose schema changed answers from its own schema for the same arguments.
func TestArgMemoPerRevision(t *testing.T) {
	args := decode(t, `{"query":"bug","limit":500}`)
	old := mustLoad(t, testData(t))
	if v := old.Check("issues", "search", args, nil); v.ArgumentsError != "/limit: maximum" {
		t.Fatalf("old revision: %q; want /limit: maximum", v.ArgumentsError)
	}
	data := testData(t)
	tool(data["servers"].(map[string]any), "issues", "search")["manifest"] = decode(t,
		strings.Replace(searchManifest, `"maximum":100`, `"maximum":1000`, 1))
	entry := tool(data["servers"].(map[string]any), "issues", "search")
	h, err := Hash(entry["manifest"].(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	entry["sha256"] = h
	next := mustLoad(t, data)
	if v := next.Check("issues", "search", args, nil); !v.ArgumentsValid {
		t.Errorf("new revision: %q; want valid under its own schema", v.ArgumentsError)
	}
	if v := old.Check("issues", "search", args, nil); v.ArgumentsError != "/limit: maximum" {
		t.Errorf("old revision after the new one: %q; want /limit: maximum", v.ArgumentsError)
	}
}

// TestArgMemoConcurrent: concurrent checks over the fixture mutations
// (run with -race) all equal the uncached verdicts.
func TestArgMemoConcurrent(t *testing.T) {
	p := loadPair(t, defaultData(t), Options{ArgCacheEntries: 64})
	type call struct {
		tool string
		args map[string]any
		want Verdict
	}
	var calls []call
	for _, c := range callsIn(t, fixtureBodies(t)["mcp-mix"]) {
		for _, args := range mutations(c.args) {
			calls = append(calls, call{c.name, args, p.plain.Check("issues", c.name, args, nil)})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 3 * len(calls) {
				c := calls[(i*(g+1))%len(calls)]
				if got := p.cached.Check("issues", c.tool, c.args, nil); !reflect.DeepEqual(got, c.want) {
					errs <- fmt.Sprintf("Check(%s, %v) = %+v; want %+v", c.tool, c.args, got, c.want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// FuzzArgMemo: for any JSON object the memoised verdict (miss and hit)
// equals the uncached one, on tools with case checks, nesting and numbers;
// and two documents share a key exactly when they are the same value.
func FuzzArgMemo(f *testing.F) {
	p := loadPair(f, testData(f), Options{ArgCacheEntries: 32})
	for _, s := range [][2]string{{`{"query":"x","limit":1}`, `{"query":"x","limit":1.0}`},
		{`{"PATH":"a","Path":"b"}`, `{"path":"a"}`}, {`{"a":{"b":[1,"2",null]}}`, `{"a":{"b":[1,"2"]}}`},
		{`{"ab":"c"}`, `{"a":"bc"}`}, {`{}`, `{"list":[{"Target":1}]}`}} {
		f.Add(s[0], s[1])
	}
	tools := []string{"issues/search", "wiki/open", "wiki/page"}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, okA := decodeObject(a)
		vb, okB := decodeObject(b)
		if !okA || !okB {
			return
		}
		for _, id := range tools {
			server, tool, _ := splitID(id)
			p.same(t, server, tool, va)
			p.same(t, server, tool, vb)
		}
		ka, cacheA := argKey(nil, 3, va)
		kb, cacheB := argKey(nil, 3, vb)
		if cacheA && cacheB && (string(ka) == string(kb)) != reflect.DeepEqual(va, vb) {
			t.Fatalf("argKey(%s) == argKey(%s) is %v; values equal is %v", a, b, string(ka) == string(kb), reflect.DeepEqual(va, vb))
		}
	})
}

// decodeObject decodes one JSON object with json.Number numbers, as the
// MCP parser hands arguments over.
func decodeObject(s string) (map[string]any, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}
