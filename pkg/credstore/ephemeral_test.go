package credstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

// TestEphemeralPeekTake: a record can be peeked any number of times, taken
// once, and is gone after its TTL (bolt, under an injected clock) or once
// taken (both backends).
func TestEphemeralPeekTake(t *testing.T) {
	now := time.Unix(1800000000, 0)
	kr, err := NewKeyring(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.Clock = func() time.Time { return now }
	bolt := New(b, kr)
	defer func() { _ = bolt.Close() }()
	rds := New(NewRedis(redis.NewClient(&redis.Options{Addr: redisproc.Start(t)}), ""), kr)
	defer func() { _ = rds.Close() }()
	for name, s := range map[string]*Store{"bolt": bolt, "redis": rds} {
		t.Run(name, func(t *testing.T) { peekTake(t, s) })
	}
	if err := bolt.PutTemp(context.Background(), "k", "short", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	var v string
	if err := bolt.PeekTemp(context.Background(), "k", "short", &v); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PeekTemp after its TTL = %v; want ErrNotFound", err)
	}
}

func peekTake(t *testing.T, s *Store) {
	ctx := context.Background()
	if err := s.PutTemp(ctx, "k", "id1", map[string]string{"sub": "alice"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		var v map[string]string
		if err := s.PeekTemp(ctx, "k", "id1", &v); err != nil || v["sub"] != "alice" {
			t.Fatalf("PeekTemp #%d = %v, %v", i+1, v, err)
		}
	}
	var v map[string]string
	if err := s.PeekTemp(ctx, "other-kind", "id1", &v); err == nil {
		t.Fatal("a record opened under another kind")
	}
	if err := s.TakeTemp(ctx, "k", "id1", &v); err != nil || v["sub"] != "alice" {
		t.Fatalf("TakeTemp = %v, %v", v, err)
	}
	if err := s.PeekTemp(ctx, "k", "id1", &v); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PeekTemp after TakeTemp = %v; want ErrNotFound", err)
	}
	if err := s.TakeTemp(ctx, "k", "id1", &v); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TakeTemp twice = %v; want ErrNotFound", err)
	}
}
