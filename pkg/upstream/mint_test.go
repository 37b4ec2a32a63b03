package upstream

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/mcp-authz/mcp-authz/pkg/identity"
)

const testIssuer = "https://authz.example.test"

func newTestMinter(t testing.TB, clock *fakeClock) *Minter {
	t.Helper()
	k, err := NewKeys([]string{writeKey(t, t.TempDir(), "a.pem", "p256")}, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMinter(MinterConfig{Issuer: testIssuer, TTL: time.Minute, CacheSize: 100, Clock: clock.Now}, k)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// parseMinted verifies tok with the minter's JWKS at now and returns its claims.
func parseMinted(t *testing.T, m *Minter, tok string, now time.Time) map[string]any {
	t.Helper()
	set, err := jwk.Parse(m.Keys().Current().JWKS())
	if err != nil {
		t.Fatal(err)
	}
	p, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer(testIssuer),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	c, err := p.AsMap(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMintClaims(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	m := newTestMinter(t, clock)
	chain := []identity.Actor{{Subject: "spiffe://c/ns/a/sa/first"}, {Subject: "client-0", Issuer: "https://auth.example.test"}}
	tests := []struct {
		name    string
		r       MintRequest
		wantAct string
		wantTTL time.Duration
	}{
		{"actor only", MintRequest{Subject: "alice", Actor: "spiffe://c/ns/a/sa/planner", Audience: "https://up/mcp", Scope: "mcp:tools/list"},
			`{"sub":"spiffe://c/ns/a/sa/planner"}`, time.Minute},
		{"actor with prior chain", MintRequest{Subject: "alice", ClientID: "c1", Actor: "spiffe://c/ns/a/sa/second", Chain: chain, Audience: "https://up/mcp", Scope: "s", TTL: 30 * time.Second},
			`{"act":{"act":{"iss":"https://auth.example.test","sub":"client-0"},"sub":"spiffe://c/ns/a/sa/first"},"sub":"spiffe://c/ns/a/sa/second"}`, 30 * time.Second},
		{"no actor", MintRequest{Subject: "alice", Audience: "https://up/mcp", Scope: "s", Claims: map[string]any{"tenant": "acme"}}, `null`, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := m.Mint(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			c := parseMinted(t, m, tok, clock.now)
			act, _ := json.Marshal(c["act"])
			if string(act) != tc.wantAct {
				t.Errorf("act = %s; want %s", act, tc.wantAct)
			}
			if c["sub"] != tc.r.Subject || c["scope"] != tc.r.Scope {
				t.Errorf("sub, scope = %v, %v; want %v, %v", c["sub"], c["scope"], tc.r.Subject, tc.r.Scope)
			}
			if exp := c["exp"].(time.Time); exp.Sub(clock.now) != tc.wantTTL {
				t.Errorf("exp - now = %s; want %s", exp.Sub(clock.now), tc.wantTTL)
			}
			if tc.r.Claims != nil && c["tenant"] != "acme" {
				t.Errorf("extra claim tenant = %v; want acme", c["tenant"])
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	m := newTestMinter(t, &fakeClock{now: time.Now()})
	for name, r := range map[string]MintRequest{
		"ttl over 5 minutes": {Subject: "a", Audience: "https://up", Scope: "s", TTL: 6 * time.Minute},
		"reserved claim":     {Subject: "a", Audience: "https://up", Scope: "s", Claims: map[string]any{"sub": "root"}},
		"no subject":         {Audience: "https://up", Scope: "s"},
	} {
		if tok, err := m.Mint(r); err == nil {
			t.Errorf("Mint(%s) = %.20s…; want an error", name, tok)
		}
	}
}

// TestMintCache checks the cache with an injected clock: an identical
// request reuses the token for a quarter of its lifetime, then a new one is
// signed; any difference in what the token says signs a new one.
func TestMintCache(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	m := newTestMinter(t, clock)
	r := MintRequest{Subject: "alice", Actor: "w", Audience: "https://up/mcp", Scope: "mcp:tools/call:issues/x"}
	first, _ := m.Mint(r)
	clock.Advance(14 * time.Second)
	if again, _ := m.Mint(r); again != first {
		t.Error("identical request within a quarter of the lifetime signed a new token")
	}
	other := r
	other.Scope = "mcp:tools/call:issues/y"
	if tok, _ := m.Mint(other); tok == first {
		t.Error("a different scope reused the cached token")
	}
	chained := r
	chained.Chain = []identity.Actor{{Subject: "prior"}}
	if tok, _ := m.Mint(chained); tok == first {
		t.Error("a different act chain reused the cached token")
	}
	clock.Advance(time.Second)
	later, _ := m.Mint(r)
	if later == first {
		t.Error("token reused after a quarter of its lifetime")
	}
	if c := parseMinted(t, m, later, clock.now); c["iat"].(time.Time).Unix() != clock.now.Unix() {
		t.Errorf("re-minted iat = %v; want now %v", c["iat"], clock.now)
	}
}

func BenchmarkMint(b *testing.B) {
	clock := &fakeClock{now: time.Now()}
	m := newTestMinter(b, clock)
	r := MintRequest{Subject: "alice", Actor: "spiffe://c/ns/a/sa/planner", Audience: "https://up/mcp", Scope: "mcp:tools/call:issues/x"}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if tok, err := m.Mint(r); err != nil || !strings.HasPrefix(tok, "ey") {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			r.Subject = "user-" + strconv.Itoa(i) // a new cache key each time: every call signs
			if tok, err := m.Mint(r); err != nil || !strings.HasPrefix(tok, "ey") {
				b.Fatal(err)
			}
		}
	})
}
