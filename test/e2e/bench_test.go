package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// BenchmarkCheck drives the real Check in process over the fixture mix.
// The "floor" sub-benchmark does what bench/parseonly does (encoding/json
// of the body and a map lookup) over the same mix in the same run, so the
// report can give our cost as a ratio of it.
func BenchmarkCheck(b *testing.B) {
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		b.Fatal(err)
	}
	comp, err := app.Build(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer comp.Close()
	reqs := loadMix(b, "testdata/mcp-mix.json")
	ctx := context.Background()
	b.Run("mcp-authz", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			resp, err := comp.Server.Check(ctx, reqs[i%len(reqs)])
			if err != nil || resp.GetStatus() == nil {
				b.Fatalf("Check = %v, %v", resp, err)
			}
			i++
		}
	})
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
