package credstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func boltStore(t *testing.T, dir string, keys ...[]byte) *Store {
	t.Helper()
	kr, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	return New(b, kr)
}

var alice = Key{Issuer: "https://idp.example", Subject: "alice", Provider: "mail"}

const secretToken = "provider-access-token-0123456789"

func TestRoundTripListRevoke(t *testing.T) {
	ctx := context.Background()
	s := boltStore(t, t.TempDir(), newKey(t))
	defer func() { _ = s.Close() }()
	if _, err := s.Get(ctx, alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	exp := time.Unix(2000000000, 0).UTC()
	if err := s.Put(ctx, alice, Credential{AccessToken: secretToken, Scopes: []string{"mail.read"}, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	other := Key{Issuer: alice.Issuer, Subject: "alice2", Provider: "mail"}
	if err := s.Put(ctx, other, Credential{AccessToken: "x"}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Get(ctx, alice)
	if err != nil || c.AccessToken != secretToken || !c.ExpiresAt.Equal(exp) {
		t.Fatalf("get: %+v %v", c, err)
	}
	list, err := s.List(ctx, alice.Issuer, alice.Subject)
	if err != nil || len(list) != 1 || list[0].Provider != "mail" || list[0].Scopes[0] != "mail.read" {
		t.Fatalf("list (must not include alice2): %+v %v", list, err)
	}
	if err := s.MarkStale(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get(ctx, alice); !c.Stale {
		t.Fatal("MarkStale did not stick")
	}
	if n, err := s.RevokeSubject(ctx, alice.Issuer, alice.Subject); err != nil || n != 1 {
		t.Fatalf("revoke subject: %d %v", n, err)
	}
	if _, err := s.Get(ctx, alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after revoke: %v", err)
	}
	if _, err := s.Get(ctx, other); err != nil {
		t.Fatalf("other user's credential lost: %v", err)
	}
}

func TestRecordBoundToKeyTuple(t *testing.T) {
	ctx := context.Background()
	kr, _ := NewKeyring(newKey(t))
	mem := newMemBackend()
	s := New(mem, kr)
	if err := s.Put(ctx, alice, Credential{AccessToken: secretToken}); err != nil {
		t.Fatal(err)
	}
	mallory := Key{Issuer: alice.Issuer, Subject: "mallory", Provider: "mail"}
	mem.m[recordID(mallory)] = mem.m[recordID(alice)] // copy the sealed record under another user
	if _, err := s.Get(ctx, mallory); err == nil {
		t.Fatal("a record copied under another key opened")
	}
	blob := mem.m[recordID(alice)]
	tampered := bytes.Replace(blob, []byte(`"c":"`), []byte(`"c":"A`), 1)
	mem.m[recordID(alice)] = tampered
	if _, err := s.Get(ctx, alice); err == nil {
		t.Fatal("a tampered record opened")
	}
}

func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKey, newK := newKey(t), newKey(t)
	s := boltStore(t, dir, oldKey)
	if err := s.Put(ctx, alice, Credential{AccessToken: secretToken}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	rotated := boltStore(t, dir, newK, oldKey)
	if c, err := rotated.Get(ctx, alice); err != nil || c.AccessToken != secretToken {
		t.Fatalf("old record after rotation: %v", err)
	}
	_ = rotated.Close()
	retired := boltStore(t, dir, newK)
	defer func() { _ = retired.Close() }()
	if _, err := retired.Get(ctx, alice); err == nil {
		t.Fatal("record opened without its key")
	}
}

func TestLoadKeyFile(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := newKey(t), newKey(t)
	cases := []struct {
		name, body string
		ok         bool
	}{
		{"two keys", "# comment\n" + base64.StdEncoding.EncodeToString(k1) + "\n\n" + base64.RawURLEncoding.EncodeToString(k2) + "\n", true},
		{"short key", base64.StdEncoding.EncodeToString(k1[:16]), false},
		{"not base64", "!!!", false},
		{"empty", "# nothing\n", false},
	}
	for _, tc := range cases {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		kr, err := LoadKeyFile(p)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if tc.ok && (kr.sealID != KeyID(k1) || len(kr.aeads) != 2) {
			t.Errorf("%s: first key must seal, both open", tc.name)
		}
	}
}

func TestRedisBackend(t *testing.T) {
	ctx := context.Background()
	addr := redisproc.Start(t)
	kr, _ := NewKeyring(newKey(t))
	a := New(NewRedis(redis.NewClient(&redis.Options{Addr: addr}), ""), kr)
	b := New(NewRedis(redis.NewClient(&redis.Options{Addr: addr}), ""), kr)
	defer func() { _ = a.Close(); _ = b.Close() }()
	if err := a.Put(ctx, alice, Credential{AccessToken: secretToken}); err != nil {
		t.Fatal(err)
	}
	if c, err := b.Get(ctx, alice); err != nil || c.AccessToken != secretToken {
		t.Fatalf("second client: %+v %v", c, err)
	}
	if l, _ := b.List(ctx, alice.Issuer, alice.Subject); len(l) != 1 {
		t.Fatalf("list: %v", l)
	}
	if err := b.Revoke(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after revoke through the other: %v", err)
	}
}

func TestKeyValidation(t *testing.T) {
	s := New(newMemBackend(), mustKeyring(t))
	for _, k := range []Key{{}, {Issuer: "i", Subject: "s"}, {Issuer: "i", Subject: string(make([]byte, maxField+1)), Provider: "p"}} {
		if err := s.Put(context.Background(), k, Credential{}); err == nil {
			t.Errorf("key %q accepted", k.Provider)
		}
	}
}

func mustKeyring(t *testing.T) *Keyring {
	kr, err := NewKeyring(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

type memBackend struct{ m map[string][]byte }

func newMemBackend() *memBackend { return &memBackend{m: map[string][]byte{}} }

func (m *memBackend) Get(_ context.Context, id string) ([]byte, error) {
	if v, ok := m.m[id]; ok {
		return v, nil
	}
	return nil, ErrNotFound
}
func (m *memBackend) Put(_ context.Context, id, _ string, b []byte) error { m.m[id] = b; return nil }
func (m *memBackend) Delete(_ context.Context, id, _ string) error        { delete(m.m, id); return nil }
func (m *memBackend) List(context.Context, string) ([]string, error)      { return nil, nil }
func (m *memBackend) Close() error                                        { return nil }
