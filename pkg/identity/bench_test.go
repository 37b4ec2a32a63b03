package identity

import (
	"context"
	"testing"
)

// BenchmarkVerify measures Verify of an RS256 token served from the
// verified-token cache and verified in full (two tokens alternating
// through a one-entry cache, so every call misses), and of a token whose
// signature verifies but whose audience is another hop's (the fixture
// mix's dave): its rejection is kept, so a repeat re-checks only claims.
func BenchmarkVerify(b *testing.B) {
	var otherHop string
	ctx := context.Background()
	run := func(b *testing.B, cacheSize int, tokens []string) {
		b.Helper()
		f := newFixture(b, func(c *Config) { c.CacheSize = cacheSize })
		reqs := make([]Request, len(tokens))
		for i, tok := range tokens {
			reqs[i] = Request{Authorization: bearer(tok), Resource: resourceA}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p, err := f.v.Verify(ctx, reqs[i%len(reqs)])
			if wantErr := tokens[0] == otherHop; (err != nil) != wantErr || (!wantErr && p.Subject != "alice") {
				b.Fatalf("Verify() = %v, %v; want alice, or an error for the other hop's token", p, err)
			}
			i++
		}
	}
	a := rsaKeyA(b)
	ca := claimsFor(issuerA, resourceA)
	t1, t2 := sign(b, a, ca), sign(b, a, with(ca, "jti", "jti-2"))
	otherHop = sign(b, a, with(ca, "aud", resourceB))
	b.Run("cached", func(b *testing.B) { run(b, DefaultCacheSize, []string{t1}) })
	b.Run("rejected", func(b *testing.B) { run(b, DefaultCacheSize, []string{otherHop}) })
	b.Run("uncached", func(b *testing.B) { run(b, 1, []string{t1, t2}) })
}
