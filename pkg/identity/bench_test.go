package identity

import (
	"context"
	"testing"
)

// BenchmarkVerify measures Verify of an RS256 token served from the
// verified-token cache and verified in full (two tokens alternating
// through a one-entry cache, so every call misses).
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, cacheSize int, tokens []string) {
		f := newFixture(b, func(c *Config) { c.CacheSize = cacheSize })
		reqs := make([]Request, len(tokens))
		for i, tok := range tokens {
			reqs[i] = Request{Authorization: bearer(tok), Resource: resourceA}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p, err := f.v.Verify(ctx, reqs[i%len(reqs)])
			if err != nil || p.Subject != "alice" {
				b.Fatalf("Verify() = %v, %v; want alice", p, err)
			}
			i++
		}
	}
	a := rsaKeyA(b)
	ca := claimsFor(issuerA, resourceA)
	t1, t2 := sign(b, a, ca), sign(b, a, with(ca, "jti", "jti-2"))
	b.Run("cached", func(b *testing.B) { run(b, DefaultCacheSize, []string{t1}) })
	b.Run("uncached", func(b *testing.B) { run(b, 1, []string{t1, t2}) })
}
