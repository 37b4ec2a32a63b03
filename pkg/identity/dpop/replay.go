package dpop

import (
	"container/heap"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// replayKey identifies a proof for replay detection: SHA-256 of the key
// thumbprint (fixed length, so the pair is unambiguous) followed by jti.
// Hashing bounds each entry whatever the jti length.
func replayKey(thumbprint []byte, jti string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(thumbprint)
	h.Write([]byte(jti))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// replayCache remembers proofs until they expire. It is bounded and never
// evicts a live entry: when full of live entries, add refuses.
type replayCache struct {
	mu      sync.Mutex
	limit   int
	seen    map[[sha256.Size]byte]struct{}
	expires expiryHeap
}

// NewReplayCache returns the in-process ReplayStore of at most limit live
// entries (0: DefaultReplayCacheSize): shared stores keep one beside them so
// a replay to the same replica is refused without a round trip.
func NewReplayCache(limit int) ReplayStore {
	if limit <= 0 {
		limit = DefaultReplayCacheSize
	}
	return newReplayCache(limit)
}

// newReplayCache returns an empty cache holding at most limit live entries.
func newReplayCache(limit int) *replayCache {
	return &replayCache{limit: limit, seen: make(map[[sha256.Size]byte]struct{})}
}

// Add records key until exp, purging entries that expired before now. It
// refuses a key already present (a replay) and, when the cache is full of
// live entries, any new key.
func (r *replayCache) Add(key [sha256.Size]byte, exp, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.purge(now)
	if _, ok := r.seen[key]; ok {
		return ReplayDenial()
	}
	if len(r.seen) >= r.limit {
		return denial.WithDetail(denial.ReplayCacheFull, detailFull, errors.New("dpop: replay cache full of live entries"))
	}
	r.seen[key] = struct{}{}
	heap.Push(&r.expires, expiry{key: key, at: exp.UnixNano()})
	return nil
}

// purge drops every entry that expired before now. Each entry is pushed and
// popped once, so the cost is amortised over the adds.
func (r *replayCache) purge(now time.Time) {
	n := now.UnixNano()
	for len(r.expires) > 0 && r.expires[0].at < n {
		e := heap.Pop(&r.expires).(expiry)
		delete(r.seen, e.key)
	}
}

// size returns the number of entries held, live or not yet purged.
func (r *replayCache) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// expiry is a cache entry's key and expiry in Unix nanoseconds.
type expiry struct {
	key [sha256.Size]byte
	at  int64
}

// expiryHeap is a min-heap of expiries (container/heap.Interface).
type expiryHeap []expiry

// Len implements heap.Interface.
func (h expiryHeap) Len() int { return len(h) }

// Less implements heap.Interface: earliest expiry first.
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }

// Swap implements heap.Interface.
func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface.
func (h *expiryHeap) Push(x any) { *h = append(*h, x.(expiry)) }

// Pop implements heap.Interface.
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
