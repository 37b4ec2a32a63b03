package ratelimit

import (
	"sync"
	"sync/atomic"
)

// DefaultMaxKeys bounds the local store when no size is configured.
const DefaultMaxKeys = 100_000

// evictSample is how many entries one eviction looks at (sampled eviction,
// as Redis does): constant work per insert whatever the store's size.
const evictSample = 64

// Local counts limits in process memory. It holds at most maxKeys entries;
// to make room it drops entries whose state equals an absent one (a rate
// back to full, a budget whose window ended), else the one closest to that
// among callers not at or over their limit. A caller who is limited is never
// evicted; when a sample finds only such callers the Take fails
// (ErrUnavailable) rather than reset one.
type Local struct {
	mu        sync.Mutex
	maxKeys   int
	entries   map[string]*entry
	evictions atomic.Uint64
}

// entry is one limit's stored state.
type entry struct {
	v       int64 // rate: theoretical arrival time; budget: units spent
	start   int64 // budget: the window the units were spent in
	expires int64 // from then on the entry equals an absent one
	protect int64 // never evicted before then: the caller is limited
}

// NewLocal returns an empty store of at most maxKeys entries (0: DefaultMaxKeys).
func NewLocal(maxKeys int) *Local {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Local{maxKeys: maxKeys, entries: make(map[string]*entry)}
}

// Len returns the number of entries held.
func (s *Local) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Evictions returns how many entries were dropped to make room.
func (s *Local) Evictions() uint64 { return s.evictions.Load() }

// storeKey identifies a limit's partition: kind, name and key.
func storeKey(l Limit) string { return l.Kind.String()[:1] + l.Name + "\x00" + l.Key }

// take judges every limit at now (µs) and, when all allow (or force is
// set: Redis allowed and this store mirrors it), charges them all.
func (s *Local) take(ls []Limit, now int64, force bool) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := Result{Allowed: true, Statuses: make([]Status, len(ls)), Backend: "local"}
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = storeKey(l)
		res.Statuses[i] = step(l, paramsOf(l), s.state(keys[i], l, now), now)
		res.Allowed = res.Allowed && res.Statuses[i].Allowed
	}
	if !res.Allowed && !force {
		s.protectRefused(ls, keys, res.Statuses, now)
		return res, nil
	}
	if !s.reserve(keys, now) {
		return Result{}, ErrUnavailable
	}
	for i, l := range ls {
		p := paramsOf(l)
		v := charge(l, p, s.state(keys[i], l, now), now)
		next := entry{v: v, start: p.windowStart(now), expires: expiry(l, p, v, now),
			protect: protectUntil(l, p, v, false, now)}
		// A held entry is overwritten in place (only this map points to it,
		// under s.mu): a charge allocates only for a new key.
		if e := s.entries[keys[i]]; e != nil {
			*e = next
		} else {
			s.entries[keys[i]] = &next
		}
	}
	return res, nil
}

// state returns the stored state of a limit as of now (0: absent or over).
func (s *Local) state(key string, l Limit, now int64) int64 {
	e := s.entries[key]
	if e == nil || e.expires <= now {
		return 0
	}
	if l.Kind == KindBudget && e.start != paramsOf(l).windowStart(now) {
		return 0
	}
	return e.v
}

// protectRefused keeps every refused caller's entry until it could be
// allowed again, so eviction never resets a caller who is limited.
func (s *Local) protectRefused(ls []Limit, keys []string, sts []Status, now int64) {
	for i, st := range sts {
		if e := s.entries[keys[i]]; e != nil && !st.Allowed {
			e.protect = max(e.protect, protectUntil(ls[i], paramsOf(ls[i]), e.v, true, now))
		}
	}
}

// reserve makes room for the keys not yet held; false when it cannot.
func (s *Local) reserve(keys []string, now int64) bool {
	need := 0
	for i, k := range keys {
		if _, ok := s.entries[k]; !ok && !seenBefore(keys[:i], k) {
			need++
		}
	}
	for len(s.entries)+need > s.maxKeys {
		if !s.evict(now) {
			return false
		}
	}
	return true
}

// evict drops, from a sample, every entry equal to an absent one or else
// the unprotected entry that expires first. False when the sample holds
// only limited callers.
func (s *Local) evict(now int64) bool {
	var victim string
	var victimExp int64
	dropped, seen := 0, 0
	for k, e := range s.entries {
		if seen++; seen > evictSample {
			break
		}
		switch {
		case e.expires <= now:
			delete(s.entries, k)
			dropped++
		case e.protect <= now && (victim == "" || e.expires < victimExp):
			victim, victimExp = k, e.expires
		}
	}
	if dropped == 0 && victim != "" {
		delete(s.entries, victim)
		dropped = 1
	}
	s.evictions.Add(uint64(dropped))
	return dropped > 0
}

func seenBefore(keys []string, k string) bool {
	for _, o := range keys {
		if o == k {
			return true
		}
	}
	return false
}
