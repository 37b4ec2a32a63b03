package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Defaults for remembering the budgets of allowed requests until the
// upstream reports their cost.
const (
	// DefaultPendingTTL is how long a request's budgets wait for a cost report.
	DefaultPendingTTL = 15 * time.Minute
	// DefaultPendingSize bounds the requests remembered locally.
	DefaultPendingSize = 100_000
)

// ErrUnknownRequest is returned by Report for a request id with no
// budgets waiting: unknown, already reported, or older than the TTL.
var ErrUnknownRequest = errors.New("ratelimit: no budgets waiting for this request id")

// Pending is what an allowed request leaves for its cost report: the
// budgets it was charged to, each with the cost already charged.
type Pending struct {
	// Limits are the budgets of the request.
	Limits []Limit `json:"limits"`
	// Tool is the canonical tool id (a metric label).
	Tool string `json:"tool,omitempty"`
}

// PendingStore keeps Pending entries by request id for a while. Take
// removes the entry, so a cost is charged at most once.
type PendingStore interface {
	Put(ctx context.Context, id string, p Pending, ttl time.Duration) error
	Take(ctx context.Context, id string) (Pending, error)
}

// localPending is a bounded in-process PendingStore: the oldest entry
// goes first when full, and entries expire after their TTL.
type localPending struct {
	mu   sync.Mutex
	size int
	now  func() time.Time
	byID map[string]pendingEntry
	// order is the ring of ids in insertion order. It grows on demand up
	// to size (then wraps at next): most deployments never report a cost,
	// and a full-size ring up front is ~1.6 MB of pointers the GC scans on
	// every cycle and that doubles into the heap target.
	order []string
	next  int
}

type pendingEntry struct {
	p       Pending
	expires time.Time
}

func newLocalPending(size int, now func() time.Time) *localPending {
	if size <= 0 {
		size = DefaultPendingSize
	}
	return &localPending{size: size, now: now, byID: map[string]pendingEntry{}}
}

// remember records id as the newest entry, evicting the oldest when the
// ring is full.
func (s *localPending) remember(id string) {
	if len(s.order) < s.size {
		if len(s.order) == cap(s.order) {
			grown := make([]string, len(s.order), min(s.size, max(64, 2*cap(s.order))))
			copy(grown, s.order)
			s.order = grown
		}
		s.order = append(s.order, id) // s.next stays 0 until the ring is full
		return
	}
	if old := s.order[s.next]; old != "" {
		delete(s.byID, old)
	}
	s.order[s.next] = id
	s.next = (s.next + 1) % s.size
}

// Put implements PendingStore.
func (s *localPending) Put(_ context.Context, id string, p Pending, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remember(id)
	s.byID[id] = pendingEntry{p: p, expires: s.now().Add(ttl)}
	return nil
}

// Take implements PendingStore.
func (s *localPending) Take(_ context.Context, id string) (Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok || !s.now().Before(e.expires) {
		return Pending{}, ErrUnknownRequest
	}
	delete(s.byID, id) // its ring slot is reused in time
	return e.p, nil
}
