package extproc

import (
	"context"
	"encoding/json"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// fakeJudge allows every listed item except those in deny, and answers
// every output with out.
type fakeJudge struct {
	deny  map[string]bool
	out   policy.OutputDecision
	err   error
	reg   *registry.Registry
	lists int
}

func (f *fakeJudge) ListAllowed(_ context.Context, in *policy.Input) (map[string]bool, error) {
	f.lists++
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]bool{}
	for name := range in.List.Tools {
		out[name] = !f.deny[name]
	}
	for _, name := range in.List.Names {
		out[name] = !f.deny[name]
	}
	return out, nil
}

func (f *fakeJudge) JudgeOutput(context.Context, *policy.Input) (policy.OutputDecision, error) {
	return f.out, f.err
}

func (f *fakeJudge) Registry() *registry.Registry { return f.reg }

// testRegistry registers issues/search_issues with manifest def.
func testRegistry(t testing.TB, def string) *registry.Registry {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(stringsReader(def))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	h, err := registry.ContentHash(m)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(map[string]any{"servers": map[string]any{"issues": map[string]any{
		"resource": "https://mcp.example.test/mcp",
		"tools":    map[string]any{"search_issues": map[string]any{"content_hash": h, "manifest": m}},
	}}}, registry.Options{})
	if err != nil {
		t.Fatalf("registry.Load: %v", err)
	}
	return reg
}

// handoffMD is the dynamic metadata Check returns for a request.
func handoffMD(t testing.TB, method, id, revision string) *corev3.Metadata {
	t.Helper()
	in := &policy.Input{
		MCP:      policy.MCP{Revision: revision, Kind: "request", Method: method, ID: json.RawMessage(id)},
		Resource: policy.Resource{ID: "https://mcp.example.test/mcp", Server: "issues"},
	}
	enc, err := policy.HandoffOf(in).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		policy.HandoffNamespace: {Fields: map[string]*structpb.Value{policy.HandoffKey: structpb.NewStringValue(enc)}},
	}}
}
