package connect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// testService builds a service over a bolt store in a temp dir with an
// injectable clock.
func testService(t *testing.T, now *time.Time) *Service {
	t.Helper()
	k := make([]byte, credstore.KeySize)
	_, _ = rand.Read(k)
	kr, err := credstore.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := credstore.OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.Clock = func() time.Time { return *now }
	store := credstore.New(b, kr)
	t.Cleanup(func() { _ = store.Close() })
	cfg := &config.Config{Providers: []config.Provider{{Name: "mail", Kind: "api_key", Header: "x-mcp-connection-mail"}},
		Connect: config.Connect{BaseURL: "https://c.example", ElicitationTTL: config.Duration(10 * time.Minute),
			RequestStateTTL: config.Duration(5 * time.Minute), CapabilityCache: 2}}
	s, err := New(cfg, store, func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var alice = Binding{Issuer: "https://idp", Subject: "alice", ClientID: "cli", Provider: "mail"}

func TestRequestState(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := testService(t, &now)
	call := RequestTarget{Method: "tools/call", Name: "search"}
	st, err := s.SealState(alice, call)
	if err != nil || !OwnsState(st) {
		t.Fatalf("seal: %q %v", st, err)
	}
	if err := s.CheckState(st, "https://idp", "alice", "cli", call); err != nil {
		t.Fatalf("own state refused: %v", err)
	}
	// Flip a ciphertext bit (not a base64 character: that may make it
	// undecodable, another refusal than the one this row tests).
	raw, err := base64.RawURLEncoding.DecodeString(st[len(StatePrefix):])
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-3] ^= 1
	flip := StatePrefix + base64.RawURLEncoding.EncodeToString(raw)
	cases := []struct {
		name, state, sub, cid string
		target                RequestTarget
		want                  string
	}{
		{"tampered", flip, "alice", "cli", call, "does not verify"},
		{"other user", st, "mallory", "cli", call, "another principal"},
		{"other client", st, "alice", "evil", call, "another principal"},
		{"other tool", st, "alice", "cli", RequestTarget{Method: "tools/call", Name: "delete"}, "another request"},
		{"garbage", StatePrefix + "!!", "alice", "cli", call, "malformed"},
	}
	for _, tc := range cases {
		err := s.CheckState(tc.state, "https://idp", tc.sub, tc.cid, tc.target)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	now = now.Add(6 * time.Minute)
	if err := s.CheckState(st, "https://idp", "alice", "cli", call); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired state: %v", err)
	}
}

func TestElicitationSingleUseAndExpiry(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := testService(t, &now)
	ctx := context.Background()
	e, err := s.Elicit(ctx, alice)
	if err != nil || !strings.HasPrefix(e.URL, "https://c.example/connect/e/") || len(e.ID) < 40 {
		t.Fatalf("elicit: %+v %v", e, err)
	}
	var b Binding
	if err := s.store.TakeTemp(ctx, kindElicitation, e.ID, &b); err != nil || b.Subject != "alice" {
		t.Fatalf("take: %+v %v", b, err)
	}
	if err := s.store.TakeTemp(ctx, kindElicitation, e.ID, &b); !errors.Is(err, credstore.ErrNotFound) {
		t.Fatalf("second take: %v", err)
	}
	e2, _ := s.Elicit(ctx, alice)
	now = now.Add(11 * time.Minute)
	if err := s.store.TakeTemp(ctx, kindElicitation, e2.ID, &b); !errors.Is(err, credstore.ErrNotFound) {
		t.Fatalf("expired take: %v", err)
	}
}

func TestStatusAndInject(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := testService(t, &now)
	ctx := context.Background()
	st, err := s.Status(ctx, "https://idp", "alice")
	if err != nil || st["mail"].Connected {
		t.Fatalf("status before: %+v %v", st, err)
	}
	var nc *ErrNotConnected
	if _, err := s.Inject(ctx, "https://idp", "alice", []string{"mail"}); !errors.As(err, &nc) {
		t.Fatalf("inject before: %v", err)
	}
	k := credstore.Key{Issuer: "https://idp", Subject: "alice", Provider: "mail"}
	if err := s.store.Put(ctx, k, credstore.Credential{AccessToken: "mk_secret", Scopes: []string{"mail.read"}, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st, _ = s.Status(ctx, "https://idp", "alice")
	if !st["mail"].Connected || st["mail"].Scopes[0] != "mail.read" || st["mail"].ExpiresAt == "" {
		t.Fatalf("status after: %+v", st)
	}
	h, err := s.Inject(ctx, "https://idp", "alice", []string{"mail"})
	if err != nil || h.Headers["x-mcp-connection-mail"] != "mk_secret" || h.Versions["mail"] == "" {
		t.Fatalf("inject: %v %v", h, err)
	}
	now = now.Add(2 * time.Hour) // expired, no refresh token: not usable
	if st, _ := s.Status(ctx, "https://idp", "alice"); st["mail"].Connected {
		t.Fatal("expired credential reported connected")
	}
	if _, err := s.Inject(ctx, "https://idp", "alice", []string{"mail"}); !errors.As(err, &nc) {
		t.Fatalf("inject expired: %v", err)
	}
}

func TestCapabilityCacheBounded(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s := testService(t, &now)
	s.RecordCapabilities("i", "a", "c", true)
	s.RecordCapabilities("i", "b", "c", false)
	s.RecordCapabilities("i", "c", "c", true) // evicts a (size 2)
	if s.URLCapable("i", "a", "c") || s.URLCapable("i", "b", "c") || !s.URLCapable("i", "c", "c") {
		t.Fatal("capability cache")
	}
}
