package credstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts every key this store writes in Redis.
const DefaultRedisPrefix = "mcp-authz:cred:"

// Redis is the shared backend for several replicas: records under
// prefix+"r:"+id, and a set per user under prefix+"u:"+owner listing them.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis wraps a client; prefix "" means DefaultRedisPrefix.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{client: client, prefix: prefix}
}

// Get returns a record's blob.
func (r *Redis) Get(ctx context.Context, id string) ([]byte, error) {
	b, err := r.client.Get(ctx, r.prefix+"r:"+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redis get: %w", err)
	}
	return b, nil
}

// Put stores a record and indexes it under its owner, atomically.
func (r *Redis) Put(ctx context.Context, id, owner string, blob []byte) error {
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.prefix+"r:"+id, blob, 0)
		p.SAdd(ctx, r.prefix+"u:"+owner, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis put: %w", err)
	}
	return nil
}

// Delete removes a record and its index entry, atomically.
func (r *Redis) Delete(ctx context.Context, id, owner string) error {
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.prefix+"r:"+id)
		p.SRem(ctx, r.prefix+"u:"+owner, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis delete: %w", err)
	}
	return nil
}

// List returns the ids indexed under owner.
func (r *Redis) List(ctx context.Context, owner string) ([]string, error) {
	ids, err := r.client.SMembers(ctx, r.prefix+"u:"+owner).Result()
	if err != nil {
		return nil, fmt.Errorf("redis list: %w", err)
	}
	return ids, nil
}

// Close closes the client.
func (r *Redis) Close() error { return r.client.Close() }
