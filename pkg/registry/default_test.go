package registry

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the content_hash values of the default registry file")

// defaultFile is the default bundle's registry of server "issues".
const defaultFile = "../../policies/mcp/servers/issues/data.json"

// loadDefault loads the default registry the way OPA hands data.mcp over.
func loadDefault(t testing.TB) *Registry {
	t.Helper()
	b, err := os.ReadFile(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	return mustLoad(t, map[string]any{"servers": map[string]any{"issues": decode(t, string(b))}})
}

// TestDefaultRegistryHashes: every stored content_hash is
// ContentHash(manifest) and no tool still carries the deprecated hex sha256.
// With -update it recomputes them (and drops sha256) instead.
func TestDefaultRegistryHashes(t *testing.T) {
	sd, err := ReadServerFile(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		for name, e := range sd.Tools {
			e.SHA256 = ""
			if e.ContentHash, err = ContentHash(e.Manifest); err != nil {
				t.Fatal(err)
			}
			sd.Tools[name] = e
		}
		if err := WriteServerFile(defaultFile, *sd); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"comment_issue", "create_issue", "delete_repo", "get_issue", "list_repos",
		"read_file", "run_query", "search_issues", "update_issue"}
	if len(sd.Tools) != len(want) {
		t.Errorf("default registry has %d tools; want %d", len(sd.Tools), len(want))
	}
	for _, name := range want {
		e, ok := sd.Tools[name]
		if !ok {
			t.Errorf("default registry lacks %s", name)
			continue
		}
		if h, err := ContentHash(e.Manifest); err != nil || h != e.ContentHash || e.SHA256 != "" {
			t.Errorf("ContentHash(%s manifest) = %s, %v; stored %s (sha256 %q; want none)", name, h, err, e.ContentHash, e.SHA256)
		}
		if len(e.Scopes) != 1 || e.Scopes[0] != "mcp:tools" {
			t.Errorf("%s scopes = %v; want [mcp:tools]", name, e.Scopes)
		}
	}
	if sd.Resource != "https://mcp.example.test/mcp" {
		t.Errorf("default registry resource = %q", sd.Resource)
	}
	r := loadDefault(t)
	if s, ok := r.ServerForResource(sd.Resource); !ok || s != "issues" {
		t.Errorf("ServerForResource(%q) = %q, %v; want issues", sd.Resource, s, ok)
	}
}

// TestDefaultRegistryIsWrittenCanonically: the file is exactly what
// WriteServerFile produces, so a re-pin yields no spurious diff.
func TestDefaultRegistryIsWrittenCanonically(t *testing.T) {
	sd, err := ReadServerFile(defaultFile)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir() + "/data.json"
	if err := WriteServerFile(tmp, *sd); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(tmp)
	want, _ := os.ReadFile(defaultFile)
	if !bytes.Equal(got, want) {
		t.Errorf("WriteServerFile(ReadServerFile(%s)) differs from the file", defaultFile)
	}
}

// toolCall is one tools/call of a fixture.
type toolCall struct {
	name string
	args map[string]any
}

// callsIn returns the tools/call requests among JSON-RPC bodies.
func callsIn(t testing.TB, bodies []string) []toolCall {
	t.Helper()
	var out []toolCall
	for _, body := range bodies {
		if body == "" {
			continue
		}
		msg := decode(t, body)
		if msg["method"] != "tools/call" {
			continue
		}
		params := msg["params"].(map[string]any)
		args, _ := params["arguments"].(map[string]any)
		out = append(out, toolCall{name: params["name"].(string), args: args})
	}
	return out
}

func fixtureBodies(t testing.TB) map[string][]string {
	t.Helper()
	var mix []struct {
		Attributes struct {
			Request struct {
				HTTP struct {
					Body string `json:"body"`
				} `json:"http"`
			} `json:"request"`
		} `json:"attributes"`
	}
	var sdk struct {
		Requests []struct {
			Body string `json:"body"`
		} `json:"requests"`
	}
	readJSON(t, "testdata/mcp-mix.json", &mix)
	readJSON(t, "testdata/sdk-ts-traffic.json", &sdk)
	out := map[string][]string{}
	for _, r := range mix {
		out["mcp-mix"] = append(out["mcp-mix"], r.Attributes.Request.HTTP.Body)
	}
	for _, r := range sdk.Requests {
		out["sdk-ts-traffic"] = append(out["sdk-ts-traffic"], r.Body)
	}
	return out
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestDefaultRegistryAcceptsFixtures: every tools/call of the reference
// traffic is approved with valid arguments, so the registry does not change
// the reference decisions.
func TestDefaultRegistryAcceptsFixtures(t *testing.T) {
	r := loadDefault(t)
	for fixture, bodies := range fixtureBodies(t) {
		calls := callsIn(t, bodies)
		if len(calls) == 0 {
			t.Errorf("%s: no tools/call found", fixture)
		}
		for i, c := range calls {
			v := r.Check("issues", c.name, c.args, nil)
			if !v.Registered || !v.Approved || !v.ArgumentsValid || v.Drifted {
				t.Errorf("%s call %d: Check(issues, %s) = %+v; want approved with valid arguments", fixture, i, c.name, v)
			}
		}
	}
}

// BenchmarkCheckMix checks every tools/call of the fixture mix in turn
// (with repeats, as traffic has them) against the default registry, with
// the argument memo (warm after the first round) and without it.
func BenchmarkCheckMix(b *testing.B) {
	calls := callsIn(b, fixtureBodies(b)["mcp-mix"])
	for _, bc := range []struct {
		name    string
		entries int
	}{{"memo", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := Load(defaultData(b), Options{ArgCacheEntries: bc.entries})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c := calls[i%len(calls)]
				if v := r.Check("issues", c.name, c.args, nil); !v.ArgumentsValid {
					b.Fatalf("Check(%s) = %+v; want valid", c.name, v)
				}
				i++
			}
		})
	}
}

func BenchmarkCheckDefaultRegistry(b *testing.B) {
	r := loadDefault(b)
	args := decode(b, `{"repo":"acme/api","query":"token refresh fails after rotation","limit":5}`)
	b.ReportAllocs()
	for b.Loop() {
		if v := r.Check("issues", "search_issues", args, nil); !v.ArgumentsValid {
			b.Fatalf("Check = %+v; want valid", v)
		}
	}
}

// BenchmarkCheckDistinctArgs is the memo's worst case: every call has new
// arguments (a miss that encodes, validates and keeps), against no memo.
func BenchmarkCheckDistinctArgs(b *testing.B) {
	for _, bc := range []struct {
		name    string
		entries int
	}{{"memo", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := Load(defaultData(b), Options{ArgCacheEntries: bc.entries})
			if err != nil {
				b.Fatal(err)
			}
			args := make([]map[string]any, 1<<14)
			for i := range args {
				args[i] = map[string]any{"repo": "acme/api", "query": "token refresh fails " + strconv.Itoa(i), "limit": json.Number("5")}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if v := r.Check("issues", "search_issues", args[i%len(args)], nil); !v.ArgumentsValid {
					b.Fatalf("Check = %+v; want valid", v)
				}
				i++
			}
		})
	}
}
