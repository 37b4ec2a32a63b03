package e2e

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// inputRecorder is the engine, keeping every input it is asked about.
type inputRecorder struct {
	*policy.Engine
	mu  sync.Mutex
	ins []*policy.Input
}

func (r *inputRecorder) Decide(ctx context.Context, in *policy.Input) (policy.Decision, error) {
	d, err := r.Engine.Decide(ctx, in)
	r.mu.Lock()
	r.ins = append(r.ins, in)
	r.mu.Unlock()
	return d, err
}

// TestHandoffEncodeDifferentialMix: over the fixture mix, the SDK session
// and their variants with every user's token, the handoff Check puts on
// the wire and policy.Handoff.Encode are byte-identical to encoding/json
// of the same projection of the decided input (the reference encoding).
func TestHandoffEncodeDifferentialMix(t *testing.T) {
	comp := buildComponents(t, testConfig)
	rec := &inputRecorder{Engine: comp.Engine}
	srv := comp.NewServer(rec)
	allows := 0
	for i, req := range differentialCorpus(t) {
		rec.ins = rec.ins[:0]
		resp, err := srv.Check(context.Background(), req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		wire := resp.GetDynamicMetadata().GetFields()[policy.HandoffKey].GetStringValue()
		if len(rec.ins) != 1 {
			if wire != "" {
				t.Fatalf("request %d: a handoff %s without a decided input", i, wire)
			}
			continue
		}
		h := policy.HandoffOf(rec.ins[0])
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("request %d: json.Marshal: %v", i, err)
		}
		if resp.GetOkResponse() != nil {
			allows++
			if wire != string(want) {
				t.Fatalf("request %d: handoff on the wire\n%s\nwant (encoding/json)\n%s", i, wire, want)
			}
		}
		h.Injected = map[string]string{"github": "v1<&>", "linear": "\u2028"}
		want, _ = json.Marshal(h)
		if got, err := h.Encode(); err != nil || got != string(want) {
			t.Fatalf("request %d: Encode() with injected =\n%s, %v\nwant\n%s", i, got, err, want)
		}
	}
	if allows == 0 {
		t.Fatal("no request was allowed: nothing compared")
	}
	t.Logf("%d handoffs on the wire compared", allows)
}
