package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// keyPrefix namespaces every key mcp-authz writes to Redis.
const keyPrefix = "mcp-authz:"

// takeScript judges every limit and, only when all allow, charges them all,
// atomically on the Redis server, so N replicas enforce one limit. It runs
// the arithmetic of math.go in microseconds (exact in Lua's doubles).
//
// KEYS[i]: limit i's key. ARGV[1]: now. Then four per limit: kind ("r" or
// "b"); for a rate the emission interval and the burst tolerance, for a
// budget the quota and the window's end; and the charge (1 interval for a
// rate, the cost for a budget). It returns {allowed, state_1, ..., state_n}
// with each limit's state before this request (tat or units spent), from
// which the caller computes the same statuses as the local store.
var takeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local before, ok = {}, 1
for i = 1, #KEYS do
  local b = 2 + (i - 1) * 4
  local kind, a, w, q = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local v = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  before[i] = v
  if kind == 'r' then
    if math.max(v, now) + q - now > w then ok = 0 end
  elseif v + q > a then
    ok = 0
  end
end
if ok == 1 then
  for i = 1, #KEYS do
    local b = 2 + (i - 1) * 4
    local kind, w, q = ARGV[b], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    if kind == 'r' then
      local tat = math.max(before[i], now) + q
      redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1)
    else
      redis.call('INCRBY', KEYS[i], q)
      redis.call('PEXPIRE', KEYS[i], math.floor((w - now) / 1000) + 1000)
    end
  end
end
local out = {ok}
for i = 1, #KEYS do out[i + 1] = before[i] end
return out
`)

// Redis counts limits in a Redis server shared by every replica.
type Redis struct {
	c redis.UniversalClient
}

// NewRedis returns a shared backend over c.
func NewRedis(c redis.UniversalClient) *Redis { return &Redis{c: c} }

// redisKey is a limit's key: its partition hashed (so no user id is stored
// in Redis and every key has the same size) and, for a budget, its window.
func redisKey(l Limit, p params, now int64) string {
	sum := sha256.Sum256([]byte(storeKey(l)))
	k := keyPrefix + "rl:" + base64.RawURLEncoding.EncodeToString(sum[:18])
	if l.Kind == KindBudget {
		k += ":" + strconv.FormatInt(p.windowStart(now)/1_000_000, 10)
	}
	return k
}

// scriptArgs are the KEYS and ARGV of takeScript for ls at now.
func scriptArgs(ls []Limit, now int64, charge func(Limit) int64) ([]string, []any) {
	keys := make([]string, len(ls))
	args := make([]any, 1, 1+4*len(ls))
	args[0] = now
	for i, l := range ls {
		p := paramsOf(l)
		keys[i] = redisKey(l, p, now)
		if l.Kind == KindRate {
			args = append(args, "r", p.interval, p.tau, charge(l)*p.interval)
		} else {
			args = append(args, "b", l.Quota, p.windowStart(now)+p.window, charge(l))
		}
	}
	return keys, args
}

// Take implements Shared.
func (r *Redis) Take(ctx context.Context, ls []Limit, now int64) (Result, error) {
	keys, args := scriptArgs(ls, now, func(l Limit) int64 {
		if l.Kind == KindRate {
			return 1
		}
		return l.Cost
	})
	vals, err := takeScript.Run(ctx, r.c, keys, args...).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(vals) != len(ls)+1 {
		return Result{}, errors.New("ratelimit: redis: unexpected script result")
	}
	res := Result{Allowed: vals[0] == 1, Statuses: make([]Status, len(ls)), Backend: "redis"}
	for i, l := range ls {
		res.Statuses[i] = step(l, paramsOf(l), vals[i+1], now)
	}
	if res.Allowed != allAllowed(res.Statuses) {
		return Result{}, errors.New("ratelimit: redis: script and local arithmetic disagree")
	}
	return res, nil
}

func allAllowed(sts []Status) bool {
	for _, s := range sts {
		if !s.Allowed {
			return false
		}
	}
	return true
}

// Charge implements Shared: units added to each budget, unconditionally.
func (r *Redis) Charge(ctx context.Context, ls []Limit, now int64) error {
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, l := range ls {
			pr := paramsOf(l)
			k := redisKey(l, pr, now)
			p.IncrBy(ctx, k, l.Cost)
			p.PExpire(ctx, k, time.Duration(pr.windowStart(now)+pr.window-now)*time.Microsecond+time.Second)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

// RedisPending is a PendingStore in Redis, so a cost report reaches any replica.
type RedisPending struct {
	c redis.UniversalClient
}

// NewRedisPending returns a PendingStore over c.
func NewRedisPending(c redis.UniversalClient) *RedisPending { return &RedisPending{c: c} }

func pendingKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return keyPrefix + "cost:" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// Put implements PendingStore.
func (r *RedisPending) Put(ctx context.Context, id string, p Pending, ttl time.Duration) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return r.c.Set(ctx, pendingKey(id), b, ttl).Err()
}

// Take implements PendingStore.
func (r *RedisPending) Take(ctx context.Context, id string) (Pending, error) {
	b, err := r.c.GetDel(ctx, pendingKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Pending{}, ErrUnknownRequest
	}
	if err != nil {
		return Pending{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	var p Pending
	if err := json.Unmarshal(b, &p); err != nil {
		return Pending{}, fmt.Errorf("ratelimit: redis: pending entry: %w", err)
	}
	return p, nil
}
