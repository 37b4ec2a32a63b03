package ratelimit

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// freshEntries gives every held entry a new pointer: the store as it was
// when each charge allocated a new entry.
func freshEntries(s *Local) {
	for k, e := range s.entries {
		c := *e
		s.entries[k] = &c
	}
}

// TestLocalInPlaceChargeDifferential: a store whose charges overwrite held
// entries in place answers every take of a long mixed sequence (rates and
// budgets, repeated limits in one call, refusals, forced charges) exactly
// as one whose entries are all new pointers before each take.
func TestLocalInPlaceChargeDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	limits := []Limit{
		{Name: "r", Key: "u=a", Kind: KindRate, Quota: 3, Window: time.Second, Burst: 2, Cost: 1},
		{Name: "r", Key: "u=b", Kind: KindRate, Quota: 5, Window: time.Minute, Cost: 1},
		{Name: "b", Key: "u=a", Kind: KindBudget, Quota: 10, Window: time.Second, Cost: 3},
		{Name: "b", Key: "u=c", Kind: KindBudget, Quota: 4, Window: 2 * time.Second, Cost: 1},
	}
	got, want := NewLocal(100), NewLocal(100) // no eviction: it samples in map order, which differs between stores
	now := int64(1_000_000)
	for step := range 5000 {
		now += rng.Int64N(400_000)
		n := 1 + rng.IntN(3)
		ls := make([]Limit, n)
		for i := range ls {
			ls[i] = limits[rng.IntN(len(limits))]
		}
		force := rng.IntN(10) == 0
		freshEntries(want)
		g, gerr := got.take(ls, now, force)
		w, werr := want.take(ls, now, force)
		if !reflect.DeepEqual(g, w) || (gerr == nil) != (werr == nil) {
			t.Fatalf("step %d: take(%v, %d, %v) = %+v, %v; want %+v, %v", step, ls, now, force, g, gerr, w, werr)
		}
		if len(got.entries) != len(want.entries) {
			t.Fatalf("step %d: %d entries; want %d", step, len(got.entries), len(want.entries))
		}
		for k, e := range want.entries {
			if ge := got.entries[k]; ge == nil || *ge != *e {
				t.Fatalf("step %d: entry %q = %+v; want %+v", step, k, ge, e)
			}
		}
	}
}
