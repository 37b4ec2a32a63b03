package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// BenchmarkDecideScaling decides one allowed tools/call against the default
// policies with 10 to 10,000 registered tools and 1,000 roles in the data,
// with the decision cache off (every decision evaluated) and on (repeats
// answered from it). The target: cost per decision flat within 10 %
// across the tool counts.
func BenchmarkDecideScaling(b *testing.B) {
	for _, tools := range []int{10, 100, 1000, 10000} {
		bdl := scaledBundle(b, tools, 1000)
		for _, cache := range []int{0, 4096} {
			name := fmt.Sprintf("tools=%d/roles=1000/cache=%s", tools, map[bool]string{true: "on", false: "off"}[cache > 0])
			b.Run(name, func(b *testing.B) {
				e := newEngine(b, Options{DecisionCache: cache}, bdl)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					in := toolsCall("search_issues", "role_0500")
					in.Resource.Server = "issues"
					d, err := e.Decide(ctx, in)
					if err != nil || !d.Allow {
						b.Fatalf("Decide() = %+v, %v; want allow", d, err)
					}
				}
			})
		}
	}
}

// scaledBundle is the default policies with a registry of tools tools
// (the default ones plus generated ones) and roles roles, each granting
// three tools (role_0500 grants search_issues).
func scaledBundle(b *testing.B, tools, roles int) *bundle.Bundle {
	b.Helper()
	dir := b.TempDir()
	rego, err := filepath.Glob("../../policies/*.rego")
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range rego {
		if strings.HasSuffix(f, "_test.rego") {
			continue
		}
		copyFile(b, f, filepath.Join(dir, filepath.Base(f)))
	}
	var data map[string]any
	readJSON(b, "../../policies/data.json", &data)
	var server map[string]any
	readJSON(b, "../../policies/mcp/servers/issues/data.json", &server)
	defs := server["tools"].(map[string]any)
	for i := len(defs); i < tools; i++ {
		name := fmt.Sprintf("tool_%05d", i)
		manifest := map[string]any{"name": name, "description": "Generated tool.", "inputSchema": map[string]any{
			"type": "object", "properties": map[string]any{"q": map[string]any{"type": "string", "maxLength": 64}}}}
		hash, err := registry.ContentHash(manifest)
		if err != nil {
			b.Fatal(err)
		}
		defs[name] = map[string]any{"content_hash": hash, "scopes": []any{"mcp:tools"}, "manifest": manifest}
	}
	granted := make([]string, 0, len(defs))
	for name := range defs {
		granted = append(granted, "issues/"+name)
	}
	rolesData := data["mcp"].(map[string]any)["roles"].(map[string]any)
	for i := range roles {
		g := []any{}
		seen := map[string]bool{}
		for _, k := range []int{i, i * 7, i * 13} {
			if t := granted[k%len(granted)]; !seen[t] && t != "issues/search_issues" {
				g, seen[t] = append(g, t), true
			}
		}
		if i == 500 {
			g = append(g, "issues/search_issues")
		}
		rolesData[fmt.Sprintf("role_%04d", i)] = map[string]any{"tools": g}
	}
	writeJSON(b, filepath.Join(dir, "data.json"), data)
	writeJSON(b, filepath.Join(dir, "mcp", "servers", "issues", "data.json"), server)
	bdl, err := LoadBundleDir(dir)
	if err != nil {
		b.Fatalf("LoadBundleDir: %v", err)
	}
	return bdl
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o644); err != nil {
		b.Fatal(err)
	}
}

func readJSON(b *testing.B, path string, v any) {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		b.Fatalf("%s: %v", path, err)
	}
}

func writeJSON(b *testing.B, path string, v any) {
	b.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		b.Fatal(err)
	}
}
