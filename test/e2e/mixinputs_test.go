package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

var updateMixInputs = flag.Bool("update-mix-inputs", false, "rewrite "+mixInputsFile)

// mixInputsFile holds the policy inputs Check builds for the differential
// corpus, for pkg/policy's decision cache tests (that package cannot run
// Check: extauthz imports it).
const mixInputsFile = "../../pkg/policy/testdata/memo/mix-inputs.json"

// mixInputTime replaces the decision time, the one input field that
// follows the clock.
const mixInputTime = "2026-03-01T12:00:00Z"

// recordingDecider decides with the engine and keeps each input, as JSON,
// as Check handed it over (before the engine completes it).
type recordingDecider struct {
	engine *policy.Engine
	mu     sync.Mutex
	seen   map[string]bool
	inputs [][]byte
}

// Decide records in, then decides it.
func (r *recordingDecider) Decide(ctx context.Context, in *policy.Input) (policy.Decision, error) {
	c := *in
	c.Request.Time = mixInputTime
	b, err := json.Marshal(&c)
	if err != nil {
		return policy.Decision{}, err
	}
	r.mu.Lock()
	if !r.seen[string(b)] {
		r.seen[string(b)] = true
		r.inputs = append(r.inputs, b)
	}
	r.mu.Unlock()
	return r.engine.Decide(ctx, in)
}

// TestMixInputsGolden keeps pkg/policy/testdata/memo/mix-inputs.json equal
// to the inputs Check builds for the fixture mix, the SDK session and their
// every-user variants (run with -update-mix-inputs to rewrite it).
func TestMixInputsGolden(t *testing.T) {
	comp := buildComponents(t, testConfig)
	rec := &recordingDecider{engine: comp.Engine, seen: map[string]bool{}}
	srv := comp.NewServer(rec)
	for i, req := range differentialCorpus(t) {
		if _, err := srv.Check(context.Background(), req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if len(rec.inputs) < 20 {
		t.Fatalf("recorded %d inputs; want the corpus's policy inputs", len(rec.inputs))
	}
	slices.SortFunc(rec.inputs, bytes.Compare)                                     // Check order varies with map iteration
	got := []byte("[\n" + string(bytes.Join(rec.inputs, []byte(",\n"))) + "\n]\n") // one input a line
	if *updateMixInputs {
		if err := os.WriteFile(mixInputsFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(mixInputsFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (%v): rerun with -update-mix-inputs", mixInputsFile, err)
	}
}
