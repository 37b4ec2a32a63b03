package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// pair is two Verifiers of one configuration on one clock: cached keeps
// its verified-token cache, ref has it emptied before every call (the
// uncached reference).
type pair struct {
	clock       *fakeClock
	a, b        testKey
	cached, ref *Verifier
}

func newPair(t testing.TB, edit func(*Config)) *pair {
	t.Helper()
	p := &pair{clock: newClock(), a: rsaKeyA(t), b: newECKey(t, kidB)}
	cfg := Config{
		Issuers: []IssuerConfig{
			{Issuer: issuerA, JWKSFile: filepath.Join("testdata", "jwks.json")},
			{Issuer: issuerB, JWKSFile: writeJWKS(t, p.b), RequireTyp: "at+jwt"},
		},
		Clock: p.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	for _, v := range []**Verifier{&p.cached, &p.ref} {
		var err error
		if *v, err = New(context.Background(), cfg); err != nil {
			t.Fatalf("New() = %v", err)
		}
		t.Cleanup((*v).Close)
	}
	return p
}

// set moves the clock to now (forwards or back).
func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	c.now = now
	c.mu.Unlock()
}

// outcome is what Verify returned, comparable across Verifiers.
type outcome struct {
	principal *Principal
	err       string
	reason    string
	detail    string
}

func outcomeOf(p *Principal, err error) outcome {
	o := outcome{principal: p}
	if err != nil {
		reason, detail := reasonOf(err)
		o.err, o.reason, o.detail = err.Error(), string(reason), detail
	}
	return o
}

// same verifies r on both Verifiers and requires the same outcome: the
// same Principal, or the same error (reason, detail and text).
func (p *pair) same(t *testing.T, what string, r, rRef Request) outcome {
	t.Helper()
	got := outcomeOf(p.cached.Verify(context.Background(), r))
	p.ref.cache.Purge()
	want := outcomeOf(p.ref.Verify(context.Background(), rRef))
	if got.err != want.err || got.reason != want.reason || got.detail != want.detail ||
		(got.principal == nil) != (want.principal == nil) ||
		(got.principal != nil && !reflect.DeepEqual(*got.principal, *want.principal)) {
		t.Fatalf("%s at %s: cached %+v (%+v); uncached %+v (%+v)", what, p.clock.Now().Format(time.RFC3339),
			got, got.principal, want, want.principal)
	}
	return got
}

// rejectedEntries counts the cache's entries of tokens whose claims failed.
func rejectedEntries(v *Verifier) int {
	n := 0
	for _, k := range v.cache.Keys() {
		if e, ok := v.cache.Peek(k); ok && e.rejected != nil {
			n++
		}
	}
	return n
}

// fixtureTokens are the fixture mix's four bearer tokens (alice, bob,
// carol, and dave's, minted for another hop).
func fixtureTokens(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixture-tokens.json"))
	must(t, err)
	var users map[string]struct {
		Token string `json:"token"`
	}
	must(t, json.Unmarshal(b, &users))
	out := map[string]string{}
	for name, u := range users {
		out[name] = u.Token
	}
	if len(out) != 4 {
		t.Fatalf("fixture tokens: %d users; want 4", len(out))
	}
	return out
}

// TestRejectedCacheMatchesUncachedFixtures: the fixture mix's tokens, at
// each hop, before iat, valid, after exp and back: the cached outcome is
// the uncached one at every step, and dave's rejected token is kept.
func TestRejectedCacheMatchesUncachedFixtures(t *testing.T) {
	p := newPair(t, nil)
	tokens := fixtureTokens(t)
	clocks := []time.Time{
		time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), // before iat 2026-01-01: issued in the future
		time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 12, 4, 0, 0, time.UTC),
		time.Date(2100, 1, 2, 0, 0, 0, 0, time.UTC),  // after exp 2100-01-01
		time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC), // the clock steps back
	}
	resources := []string{resourceA, "https://other.example.test/mcp", resourceB}
	for _, at := range clocks {
		p.clock.set(at)
		for round := range 2 {
			for _, user := range slices.Sorted(maps.Keys(tokens)) {
				for _, res := range resources {
					r := Request{Authorization: bearer(tokens[user]), Resource: res}
					p.same(t, fmt.Sprintf("%s at %s round %d", user, res, round), r, r)
				}
			}
		}
	}
	if n := rejectedEntries(p.cached); n == 0 {
		t.Errorf("no rejected token kept; want dave's and the other hops'")
	}
}

// TestRejectedCacheMatchesUncached: tokens whose claims fail in every way
// the claims checks know (and valid ones beside), at each hop, over a
// clock that passes nbf, iat and exp and steps back: the cached outcome is
// the uncached one at every step, DPoP and Bearer alike.
func TestRejectedCacheMatchesUncached(t *testing.T) {
	p := newPair(t, func(c *Config) { c.Issuers[0].RequireClaims = []string{"iat"} })
	ca := claimsFor(issuerA, resourceA)
	holder := newECKey(t, "holder")
	cnf := map[string]any{"jkt": jktOf(t, holder)}
	tokens := map[string]string{
		"valid":          sign(t, p.a, ca),
		"expired":        sign(t, p.a, with(ca, "exp", t0.Add(-time.Hour).Unix())),
		"not yet":        sign(t, p.a, with(ca, "nbf", t0.Add(30*time.Minute).Unix())),
		"iat future":     sign(t, p.a, with(ca, "iat", t0.Add(30*time.Minute).Unix())),
		"no exp":         sign(t, p.a, with(ca, "exp", nil)),
		"no iat":         sign(t, p.a, with(ca, "iat", nil)),
		"aud other hop":  sign(t, p.a, with(ca, "aud", resourceB)),
		"aud two hops":   sign(t, p.a, with(ca, "aud", []string{resourceA, resourceB})),
		"no sub":         sign(t, p.a, with(ca, "sub", nil)),
		"scope a number": sign(t, p.a, with(ca, "scope", 7)),
		"bad cnf":        sign(t, p.a, with(ca, "cnf", map[string]any{"x5t#S256": "x"})),
		"bad act":        sign(t, p.a, with(ca, "act", "svc")),
		"bad may_act":    sign(t, p.a, with(ca, "may_act", 1)),
		"jti a number":   sign(t, p.a, with(ca, "jti", 5)),
		"bad roles, jti": sign(t, p.a, with(ca, "roles", 3, "jti", 5)),
		"bad roles":      sign(t, p.a, with(ca, "roles", 3)),
		"bound":          sign(t, p.a, with(ca, "cnf", cnf)),
		"bound, aud B":   sign(t, p.a, with(ca, "cnf", cnf, "aud", resourceB)),
		"issuer B":       mint(t, map[string]any{"alg": "ES256", "kid": kidB, "typ": "at+jwt"}, claimsFor(issuerB, resourceA), p.b.priv),
		"issuer B, aud B": mint(t, map[string]any{"alg": "ES256", "kid": kidB, "typ": "at+jwt"},
			with(claimsFor(issuerB, resourceA), "aud", resourceB), p.b.priv),
	}
	offsets := []time.Duration{-2 * time.Hour, 0, 31 * time.Minute, 59 * time.Minute, 2 * time.Hour, 10 * time.Minute, -2 * time.Hour}
	step := 0
	for _, off := range offsets {
		p.clock.set(t0.Add(off))
		for round := range 2 {
			for _, name := range slices.Sorted(maps.Keys(tokens)) {
				for _, res := range []string{resourceA, resourceB} {
					step++
					what := fmt.Sprintf("%s at %s round %d", name, res, round)
					tok := tokens[name]
					p.same(t, what+" Bearer", Request{Authorization: bearer(tok), Resource: res},
						Request{Authorization: bearer(tok), Resource: res})
					proof := func() Request {
						jti := fmt.Sprintf("p-%d", step)
						return Request{Authorization: []string{"DPoP " + tok}, Method: "POST", Path: "/mcp", Resource: res,
							PublicOrigin: originA, DPoP: []string{dpopProof(t, holder, "POST", originA+"/mcp", tok, jti, p.clock.Now())}}
					}
					r := proof()
					p.same(t, what+" DPoP", r, r) // each Verifier sees the proof once
					p.same(t, what+" DPoP replayed", r, r)
				}
			}
		}
	}
	if n := rejectedEntries(p.cached); n < 10 {
		t.Errorf("%d rejected tokens kept; want the claim failures kept", n)
	}
}

// TestRejectedCacheRespectsKeyChanges: a kept rejected token is answered
// from the cache only while the key that verified it is still in the
// issuer's key set; after rotation, or when the set is stale, the outcome
// is the uncached one (unknown key, issuer unavailable).
func TestRejectedCacheRespectsKeyChanges(t *testing.T) {
	k1, k2 := newECKey(t, "rot-1"), newECKey(t, "rot-2")
	srv := newJWKSServer(t, true, k1)
	f := newRemoteFixture(t, srv, nil)
	ctx := context.Background()
	wrongHop := sign(t, k1, with(claimsFor(issuerR, resourceB), "exp", t0.Add(24*time.Hour).Unix()))
	verify := func() error {
		_, err := f.v.Verify(ctx, Request{Authorization: bearer(wrongHop), Resource: resourceA})
		return err
	}
	for range 3 {
		if err := verify(); !isDetail(err, detailAudience) {
			t.Fatalf("Verify(wrong hop) = %v; want %q", err, detailAudience)
		}
	}
	if n := rejectedEntries(f.v); n != 1 {
		t.Fatalf("%d rejected tokens kept; want 1", n)
	}
	srv.set(jwksJSON(t, k2), http.StatusOK, false)
	f.clock.Advance(31 * time.Second) // past MinRefetchInterval, within the kept entry's JWKSRefresh
	if err := f.verify(t, ctx, k2, issuerR); err != nil {
		t.Fatalf("Verify(k2) = %v; want ok (unknown kid refetch)", err)
	}
	if st := f.statusOf(issuerR); st.Keys != 1 {
		t.Fatalf("issuer keys after rotation = %d; want 1 (rot-2 only)", st.Keys)
	}
	if err := verify(); !isDetail(err, detailUnknownKey) {
		t.Errorf("Verify(wrong hop, its key rotated out) = %v; want %q as uncached", err, detailUnknownKey)
	}
	srv.set(nil, http.StatusInternalServerError, false)
	f.clock.Advance(2 * time.Hour) // past MaxStaleness with the endpoint down
	if err := verify(); !isDetail(err, detailKeysStale) {
		t.Errorf("Verify(wrong hop, keys stale) = %v; want %q", err, detailKeysStale)
	}
}

// TestRejectedCacheSameKidNewKey: a kid republished with another key is a
// key change: the kept rejection is dropped and the signature checked again.
func TestRejectedCacheSameKidNewKey(t *testing.T) {
	k1, k1b := newECKey(t, "rot-1"), newECKey(t, "rot-1")
	srv := newJWKSServer(t, true, k1)
	f := newRemoteFixture(t, srv, nil)
	ctx := context.Background()
	wrongHop := sign(t, k1, with(claimsFor(issuerR, resourceB), "exp", t0.Add(24*time.Hour).Unix()))
	f.clock.Advance(9 * time.Minute) // kept until 19m; the key set (fetched at 0) refreshes after 10m
	if _, err := f.v.Verify(ctx, Request{Authorization: bearer(wrongHop), Resource: resourceA}); !isDetail(err, detailAudience) {
		t.Fatalf("Verify(wrong hop) = %v; want %q", err, detailAudience)
	}
	srv.set(jwksJSON(t, k1b), http.StatusOK, false)
	f.clock.Advance(2 * time.Minute)
	_ = f.verify(t, ctx, k1b, issuerR) // kicks the background refresh
	waitFor(t, "background refresh publishing the new rot-1", func() bool { return f.verify(t, ctx, k1b, issuerR) == nil })
	if _, err := f.v.Verify(ctx, Request{Authorization: bearer(wrongHop), Resource: resourceA}); !isDetail(err, detailSignature) {
		t.Errorf("Verify(wrong hop, kid now another key) = %v; want %q", err, detailSignature)
	}
}

// FuzzRejectedCache: tokens of fuzzed lifetimes and audiences, verified
// over a fuzzed clock path: cached equals uncached at every step.
func FuzzRejectedCache(f *testing.F) {
	p := newPair(f, nil)
	f.Add(int16(60), int16(-1), int16(-1), uint8(0), int16(0), int16(30), int16(120))
	f.Add(int16(-60), int16(0), int16(0), uint8(1), int16(-120), int16(0), int16(-30))
	f.Add(int16(10), int16(5), int16(-5), uint8(2), int16(0), int16(6), int16(11))
	auds := []any{resourceA, resourceB, []string{resourceA, resourceB}, []string{}, 5}
	f.Fuzz(func(t *testing.T, exp, nbf, iat int16, aud uint8, c1, c2, c3 int16) {
		minutes := func(m int16) int64 { return t0.Add(time.Duration(m) * time.Minute).Unix() }
		claims := with(claimsFor(issuerB, resourceA), "exp", minutes(exp), "nbf", minutes(nbf), "iat", minutes(iat),
			"aud", auds[int(aud)%len(auds)])
		tok := mint(t, map[string]any{"alg": "ES256", "kid": kidB, "typ": "at+jwt"}, claims, p.b.priv)
		p.cached.cache.Purge()
		for _, c := range []int16{c1, c2, c3, c1} {
			p.clock.set(t0.Add(time.Duration(c) * time.Minute))
			for _, res := range []string{resourceA, resourceB} {
				r := Request{Authorization: bearer(tok), Resource: res}
				p.same(t, fmt.Sprintf("claims %v at %s", claims, res), r, r)
			}
		}
	})
}
