package credstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// Ephemeral records (pending elicitations, browser flows) are short-lived,
// single-use and sealed like credentials: Take reads and deletes in one step,
// so two replicas can never both consume one.

// ephemeralKey is the additional data of an ephemeral record.
func ephemeralKey(kind, id string) Key {
	return Key{Issuer: "ephemeral", Subject: kind, Provider: id}
}

// PutTemp seals v under (kind, id) for at most ttl.
func (s *Store) PutTemp(ctx context.Context, kind, id string, v any, ttl time.Duration) error {
	pt, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("credstore: encode %s: %w", kind, err)
	}
	env, err := s.keys.seal(pt, additionalData(ephemeralKey(kind, id)))
	if err != nil {
		return err
	}
	blob, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("credstore: encode envelope: %w", err)
	}
	t, ok := s.backend.(tempBackend)
	if !ok {
		return errors.New("credstore: backend keeps no ephemeral records")
	}
	return t.putTemp(ctx, kind+":"+id, blob, ttl)
}

// TakeTemp opens and deletes the record under (kind, id) into v;
// ErrNotFound when it is missing, expired or already taken.
func (s *Store) TakeTemp(ctx context.Context, kind, id string, v any) error {
	t, ok := s.backend.(tempBackend)
	if !ok {
		return errors.New("credstore: backend keeps no ephemeral records")
	}
	blob, err := t.takeTemp(ctx, kind+":"+id)
	if err != nil {
		return err
	}
	return s.openTemp(kind, id, blob, v)
}

// PeekTemp opens the record under (kind, id) into v without taking it;
// ErrNotFound when it is missing, expired or already taken. A record whose
// use must stay single reaches TakeTemp before it counts as used.
func (s *Store) PeekTemp(ctx context.Context, kind, id string, v any) error {
	t, ok := s.backend.(tempBackend)
	if !ok {
		return errors.New("credstore: backend keeps no ephemeral records")
	}
	blob, err := t.peekTemp(ctx, kind+":"+id)
	if err != nil {
		return err
	}
	return s.openTemp(kind, id, blob, v)
}

// openTemp opens a sealed ephemeral record into v.
func (s *Store) openTemp(kind, id string, blob []byte, v any) error {
	var env envelope
	if err := json.Unmarshal(blob, &env); err != nil {
		return fmt.Errorf("credstore: %s malformed: %w", kind, err)
	}
	pt, err := s.keys.open(env, additionalData(ephemeralKey(kind, id)))
	if err != nil {
		return err
	}
	return json.Unmarshal(pt, v)
}

// tempBackend is implemented by backends that keep ephemeral records.
type tempBackend interface {
	putTemp(ctx context.Context, id string, blob []byte, ttl time.Duration) error
	takeTemp(ctx context.Context, id string) ([]byte, error)
	peekTemp(ctx context.Context, id string) ([]byte, error)
}

var boltTemp = []byte("ephemeral")

func (b *Bolt) putTemp(_ context.Context, id string, blob []byte, ttl time.Duration) error {
	v := binary.BigEndian.AppendUint64(nil, uint64(b.now().Add(ttl).UnixNano()))
	v = append(v, blob...)
	return b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltTemp)
		if err != nil {
			return err
		}
		b.sweep(bk)
		return bk.Put([]byte(id), v)
	})
}

func (b *Bolt) takeTemp(_ context.Context, id string) ([]byte, error) {
	var out []byte
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltTemp)
		if bk == nil {
			return ErrNotFound
		}
		v := bk.Get([]byte(id))
		if len(v) < 8 {
			return ErrNotFound
		}
		exp := time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))
		out = append([]byte(nil), v[8:]...)
		if err := bk.Delete([]byte(id)); err != nil {
			return err
		}
		if !b.now().Before(exp) {
			out = nil
		}
		return nil
	})
	if err == nil && out == nil {
		err = ErrNotFound
	}
	return out, err
}

func (b *Bolt) peekTemp(_ context.Context, id string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltTemp)
		if bk == nil {
			return nil
		}
		v := bk.Get([]byte(id))
		if len(v) >= 8 && b.now().Before(time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))) {
			out = append([]byte(nil), v[8:]...)
		}
		return nil
	})
	if err == nil && out == nil {
		err = ErrNotFound
	}
	return out, err
}

// sweep deletes expired ephemeral records (bounded work per call).
func (b *Bolt) sweep(bk *bolt.Bucket) {
	var dead [][]byte
	c := bk.Cursor()
	n := 0
	for k, v := c.First(); k != nil && n < 256; k, v = c.Next() {
		n++
		if len(v) < 8 || !b.now().Before(time.Unix(0, int64(binary.BigEndian.Uint64(v[:8])))) {
			dead = append(dead, append([]byte(nil), k...))
		}
	}
	for _, k := range dead {
		_ = bk.Delete(k)
	}
}

func (r *Redis) putTemp(ctx context.Context, id string, blob []byte, ttl time.Duration) error {
	if err := r.client.Set(ctx, r.prefix+"t:"+id, blob, ttl).Err(); err != nil {
		return fmt.Errorf("redis put: %w", err)
	}
	return nil
}

func (r *Redis) takeTemp(ctx context.Context, id string) ([]byte, error) {
	b, err := r.client.GetDel(ctx, r.prefix+"t:"+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis take: %w", err)
	}
	return b, nil
}

func (r *Redis) peekTemp(ctx context.Context, id string) ([]byte, error) {
	b, err := r.client.Get(ctx, r.prefix+"t:"+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis peek: %w", err)
	}
	return b, nil
}
