package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"sort"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/mcp-authz/mcp-authz/bundles"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// registryList is the default registry's nine tools as a tools/list result.
func registryList(b *testing.B) []byte {
	raw, err := os.ReadFile("../../policies/mcp/servers/issues/data.json")
	if err != nil {
		b.Fatal(err)
	}
	var sd struct {
		Tools map[string]struct {
			Manifest json.RawMessage `json:"manifest"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(raw, &sd); err != nil {
		b.Fatal(err)
	}
	names := make([]string, 0, len(sd.Tools))
	for n := range sd.Tools {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	buf.WriteString(`{"jsonrpc":"2.0","id":1,"result":{"tools":[`)
	for i, n := range names {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := json.Compact(&buf, sd.Tools[n].Manifest); err != nil {
			b.Fatal(err)
		}
	}
	buf.WriteString(`]}}`)
	return buf.Bytes()
}

// BenchmarkToolsListJSON filters the default registry's tools/list for an
// analyst with the embedded bundle: strict parse, nine live hashes, one
// data.mcp.list evaluation, the rewrite.
func BenchmarkToolsListJSON(b *testing.B) {
	bd, err := bundles.Default()
	if err != nil {
		b.Fatal(err)
	}
	e := policy.New(policy.Options{ResponseDeadline: 10 * time.Second}) // judged for cost, not a deadline
	if err := e.Activate(context.Background(), bd); err != nil {
		b.Fatal(err)
	}
	s := New(Options{}, e, nil)
	md := handoffMD(b, "tools/list", "1", "2025-06-18")
	body := registryList(b)
	b.ReportAllocs()
	for b.Loop() {
		ex := &exchange{}
		ex.load(md)
		ex.in.Principal = policy.Principal{Subject: "bob", Roles: []string{"analyst"}, Scopes: []string{"mcp:tools"},
			Audience: []string{"https://mcp.example.test/mcp"}, TokenType: "Bearer", Claims: map[string]any{}}
		s.responseHeaders(context.Background(), ex, headers("content-type", "application/json"))
		resp := s.responseBody(context.Background(), ex, &extprocv3.HttpBody{Body: body, EndOfStream: true})
		out := resp.GetResponseBody().GetResponse().GetBodyMutation().GetBody()
		if bytes.Count(out, []byte(`"name":`)) != 5 {
			b.Fatalf("filtered list %s; want the analyst's 5 tools", out)
		}
	}
}
