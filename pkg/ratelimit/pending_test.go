package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// refPending is the reference localPending: the full-size ring allocated up
// front, as before the ring grew on demand. The on-demand ring must keep
// and evict exactly the same entries.
type refPending struct {
	size  int
	byID  map[string]bool
	order []string
	next  int
}

func newRefPending(size int) *refPending {
	return &refPending{size: size, byID: map[string]bool{}, order: make([]string, size)}
}

func (r *refPending) put(id string) {
	if old := r.order[r.next]; old != "" {
		delete(r.byID, old)
	}
	r.order[r.next] = id
	r.next = (r.next + 1) % r.size
	r.byID[id] = true
}

func (r *refPending) take(id string) bool {
	ok := r.byID[id]
	delete(r.byID, id)
	return ok
}

// TestLocalPendingMatchesFullRing drives the on-demand ring and the
// reference with the same random puts and takes (repeated ids included)
// over sizes around the growth steps and checks every Take agrees.
func TestLocalPendingMatchesFullRing(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	for _, size := range []int{1, 2, 3, 63, 64, 65, 100, 129, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(size), 7))
			got, want := newLocalPending(size, clock), newRefPending(size)
			for i := range 20 * size {
				id := fmt.Sprint("r", rng.IntN(3*size+1))
				if rng.IntN(3) > 0 {
					if err := got.Put(ctx, id, Pending{Tool: id}, time.Minute); err != nil {
						t.Fatalf("step %d: Put(%s): %v", i, id, err)
					}
					want.put(id)
					continue
				}
				p, err := got.Take(ctx, id)
				ok := want.take(id)
				if ok != (err == nil) || (!ok && !errors.Is(err, ErrUnknownRequest)) || (ok && p.Tool != id) {
					t.Fatalf("step %d: Take(%s) = %+v, %v; reference has it: %v", i, id, p, err, ok)
				}
			}
			if len(got.order) > size || cap(got.order) > size {
				t.Fatalf("ring len %d cap %d exceeds size %d", len(got.order), cap(got.order), size)
			}
		})
	}
}

// TestLocalPendingStartsEmpty: a limiter whose requests never report a cost
// holds no ring at all.
func TestLocalPendingStartsEmpty(t *testing.T) {
	s := newLocalPending(DefaultPendingSize, time.Now)
	if cap(s.order) != 0 {
		t.Fatalf("new store holds a ring of %d slots, want none until the first Put", cap(s.order))
	}
}
