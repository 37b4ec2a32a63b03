package app

import (
	"sync"
	"sync/atomic"
	"testing"
)

// testGeneration is a generation whose close is observed.
func testGeneration(closed *atomic.Int32) *generation {
	return &generation{closers: []func(){func() { closed.Add(1) }}}
}

// TestGenerationRetire: a replaced generation closes when its last Check
// ends, never while one runs on it, and exactly once.
func TestGenerationRetire(t *testing.T) {
	var closed1, closed2 atomic.Int32
	l := &LiveServer{}
	g1 := testGeneration(&closed1)
	l.swap(g1)
	if got := l.acquire(); got != g1 {
		t.Fatal("acquire did not return the active generation")
	}
	l.swap(testGeneration(&closed2))
	if closed1.Load() != 0 {
		t.Fatal("the replaced generation closed while a Check ran on it")
	}
	if l.acquire() == g1 {
		t.Fatal("a Check began on the replaced generation")
	}
	g1.release()
	if closed1.Load() != 1 {
		t.Fatalf("the replaced generation closed %d times after its last Check; want 1", closed1.Load())
	}
	l.swap(testGeneration(&closed1)) // the second one has a Check running (acquired above)
	if closed2.Load() != 0 {
		t.Fatal("closed with a Check running")
	}
	l.current().retire() // idle and retired: closes at once
	if closed1.Load() != 2 {
		t.Fatalf("an idle retired generation did not close (%d)", closed1.Load())
	}
}

// TestGenerationSwapUnderLoad: Checks acquiring while generations are
// swapped never run on a closed generation, and every replaced one closes
// once its Checks are done.
func TestGenerationSwapUnderLoad(t *testing.T) {
	const swaps, workers, perWorker = 50, 4, 500
	l := &LiveServer{}
	var closedCount atomic.Int32
	var gens sync.Map // each generation's closed flag
	newGen := func() *generation {
		g := &generation{}
		var closed atomic.Bool
		g.closers = []func(){func() {
			if closed.Swap(true) {
				t.Error("a generation closed twice")
			}
			closedCount.Add(1)
		}}
		gens.Store(g, &closed)
		return g
	}
	l.swap(newGen())
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				g := l.acquire()
				if c, _ := gens.Load(g); c.(*atomic.Bool).Load() {
					t.Error("a Check ran on a closed generation")
				}
				g.release()
			}
		})
	}
	for range swaps {
		l.swap(newGen())
	}
	wg.Wait()
	if got := closedCount.Load(); got != swaps {
		t.Errorf("%d generations closed; want the %d replaced ones", got, swaps)
	}
}
