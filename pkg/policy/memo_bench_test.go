package policy

import (
	"context"
	"testing"
)

// BenchmarkDecideCacheHit decides inputs whose projection the cache holds:
// one allowed tools/call, and the fixture mix's inputs round-robin. What
// a hit costs is the key and the copy of the kept decision.
func BenchmarkDecideCacheHit(b *testing.B) {
	for name, ins := range map[string][]*Input{"tools-call": {toolsCall("search_issues", "analyst")}, "mix": mixInputs(b)} {
		b.Run(name, func(b *testing.B) {
			e := policyDirEngineOpts(b, Options{DecisionCache: 1024})
			ctx := context.Background()
			for _, in := range ins {
				_, _ = e.Decide(ctx, in) // warm: the next decisions are hits (errors never are)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if d, err := e.Decide(ctx, ins[i%len(ins)]); err == nil && !d.Meta.Cached {
					b.Fatalf("Decide() = %+v; want a cached decision", d)
				}
				i++
			}
		})
	}
}

// BenchmarkMemoKey computes the cache key alone, of completed inputs.
func BenchmarkMemoKey(b *testing.B) {
	for name, ins := range map[string][]*Input{"tools-call": {toolsCall("search_issues", "analyst")}, "mix": mixInputs(b)} {
		b.Run(name, func(b *testing.B) {
			e := policyDirEngineOpts(b, Options{DecisionCache: 1024})
			for _, in := range ins {
				_, _ = e.Decide(context.Background(), in)
			}
			snap := e.cur.Load()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if k, ok := snap.keyOf(ins[i%len(ins)], nil); !ok || k == "" {
					b.Fatal("keyOf() found no key")
				}
				i++
			}
		})
	}
}
