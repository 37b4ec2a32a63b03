package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// BenchmarkCheck drives the real Check in process over the fixture mix,
// with the default configuration (decision cache on) and with the decision
// cache off (every Check evaluates the policy). The "floor" sub-benchmark
// does what bench/parseonly does (encoding/json of the body and a map
// lookup) over the same mix in the same run, so the report can give our
// cost as a ratio of it.
func BenchmarkCheck(b *testing.B) {
	reqs := loadMix(b, "testdata/mcp-mix.json")
	b.Run("mcp-authz", func(b *testing.B) { benchChecks(b, testConfig, reqs) })
	b.Run("mcp-authz-decision-cache-off", func(b *testing.B) { benchChecks(b, noDecisionCache(testConfig), reqs) })
	b.Run("floor-parseonly", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !floorCheck(reqs[i%len(reqs)]) && i < 0 {
				b.Fatal("unreachable")
			}
			i++
		}
	})
}

// noDecisionCache turns the decision cache off in a config using testConfig's policy: key.
func noDecisionCache(yaml string) string {
	return strings.Replace(yaml, "policy:\n", "policy:\n  decision_cache: {size: 0}\n", 1)
}

// benchChecks builds the service from yaml and sends reqs round-robin.
func benchChecks(b *testing.B, yaml string, reqs []*authv3.CheckRequest) {
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	comp, err := app.Build(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer comp.Close()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		resp, err := comp.Server.Check(ctx, reqs[i%len(reqs)])
		if err != nil || resp.GetStatus() == nil {
			b.Fatalf("Check = %v, %v", resp, err)
		}
		i++
	}
}

var floorAllowed = map[string]bool{"search_issues": true, "get_issue": true, "list_repos": true, "read_file": true, "run_query": true}

// floorCheck is bench/parseonly's decision: JSON-decode, allow unless a
// tools/call of a tool outside the allowlist.
func floorCheck(req *authv3.CheckRequest) bool {
	var m struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if json.Unmarshal([]byte(req.GetAttributes().GetRequest().GetHttp().GetBody()), &m) != nil {
		return false
	}
	return m.Method != "tools/call" || floorAllowed[m.Params.Name]
}
