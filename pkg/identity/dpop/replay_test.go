package dpop

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// TestReplayFlood fills a cache of size n with n distinct live proofs: a new
// proof is refused with ReplayCacheFull, a replay is still refused as such,
// and once the clock passes the window new proofs are accepted again.
func TestReplayFlood(t *testing.T) {
	const n = 8
	k := keys(t)
	clock := newTestClock(t0)
	c := newTestChecker(t, Options{ReplayCacheSize: n}, clock)
	early := k.es256.params(k.es256.proof(t, "flood-0", nil, nil))
	wantDenial(t, "Check(flood-0)", c.Check(early), "", "")
	for i := 1; i < n; i++ {
		p := k.es256.params(k.es256.proof(t, fmt.Sprintf("flood-%d", i), nil, nil))
		wantDenial(t, fmt.Sprintf("Check(flood-%d)", i), c.Check(p), "", "")
	}
	fresh := k.es256.params(k.es256.proof(t, "one-more", nil, nil))
	wantDenial(t, "Check(new proof, cache full)", c.Check(fresh), denial.ReplayCacheFull, detailFull)
	wantDenial(t, "Check(replay, cache full)", c.Check(early), denial.InvalidDPoPProof, detailReplay)

	later := t0.Add(DefaultIATWindow + time.Second)
	clock.Set(later)
	wantDenial(t, "Check(replay after the window)", c.Check(early), denial.InvalidDPoPProof, detailIAT)
	for i := range n {
		p := k.es256.params(k.es256.proof(t, fmt.Sprintf("after-%d", i), nil, map[string]any{"iat": later.Unix()}))
		wantDenial(t, fmt.Sprintf("Check(after-%d)", i), c.Check(p), "", "")
	}
	if got := c.replay.(*replayCache).size(); got != n {
		t.Errorf("replay cache holds %d entries after the window; want %d", got, n)
	}
}

// TestReplayKeyedByKeyAndJTI checks that the same jti under two keys is two
// entries, and the same jti under one key a replay.
func TestReplayKeyedByKeyAndJTI(t *testing.T) {
	k := keys(t)
	c := newTestChecker(t, Options{}, nil)
	a := k.es256.params(k.es256.proof(t, "shared", nil, nil))
	b := k.es256b.params(k.es256b.proof(t, "shared", nil, nil))
	again := k.es256.params(k.es256.proof(t, "shared", nil, map[string]any{"iat": t0.Unix() - 1}))
	wantDenial(t, "Check(key a, jti shared)", c.Check(a), "", "")
	wantDenial(t, "Check(key b, jti shared)", c.Check(b), "", "")
	wantDenial(t, "Check(key a, jti shared, other iat)", c.Check(again), denial.InvalidDPoPProof, detailReplay)
}

// TestReplayConcurrent checks that of many concurrent presentations of one
// proof exactly one is accepted.
func TestReplayConcurrent(t *testing.T) {
	k := keys(t)
	c := newTestChecker(t, Options{}, nil)
	p := k.es256.params(k.es256.proof(t, "race", nil, nil))
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = c.Check(p) })
	}
	wg.Wait()
	accepted := 0
	for _, err := range errs {
		if err == nil {
			accepted++
			continue
		}
		wantDenial(t, "Check(concurrent replay)", err, denial.InvalidDPoPProof, detailReplay)
	}
	if accepted != 1 {
		t.Errorf("%d of %d concurrent presentations accepted; want 1", accepted, n)
	}
}

// TestReplayCacheExpiry drives the cache directly with out-of-order
// expiries: an entry lives until its own expiry, whatever the insertion
// order.
func TestReplayCacheExpiry(t *testing.T) {
	r := newReplayCache(3)
	key := func(s string) [32]byte { return replayKey([]byte("tp"), s) }
	steps := []struct {
		name   string
		key    string
		exp    time.Duration // after t0
		now    time.Duration // after t0
		reason denial.Reason
	}{
		{name: "late entry", key: "a", exp: 30 * time.Second},
		{name: "early entry", key: "b", exp: 10 * time.Second},
		{name: "middle entry", key: "c", exp: 20 * time.Second},
		{name: "full", key: "d", exp: 40 * time.Second, now: 5 * time.Second, reason: denial.ReplayCacheFull},
		{name: "expiry instant still live", key: "e", exp: 40 * time.Second, now: 10 * time.Second, reason: denial.ReplayCacheFull},
		{name: "early entry expired", key: "e", exp: 40 * time.Second, now: 11 * time.Second},
		{name: "late entry still live", key: "a", exp: 50 * time.Second, now: 25 * time.Second, reason: denial.InvalidDPoPProof},
		{name: "middle entry expired, room again", key: "f", exp: 50 * time.Second, now: 25 * time.Second},
		{name: "expired key reusable", key: "b", exp: 50 * time.Second, now: 31 * time.Second},
	}
	for _, s := range steps {
		err := r.Add(key(s.key), t0.Add(s.exp), t0.Add(s.now))
		if got := denial.ReasonOf(err); (err == nil) != (s.reason == "") || (err != nil && got != s.reason) {
			t.Errorf("%s: add(%q) = %v; want reason %q", s.name, s.key, err, s.reason)
		}
	}
}
