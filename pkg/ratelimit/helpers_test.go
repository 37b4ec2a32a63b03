package ratelimit

import (
	"sync"
	"time"
)

// fakeClock is a clock tests move by hand: no test depends on real time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func rate(name, key string, quota int64, window time.Duration, burst int64) Limit {
	return Limit{Name: name, Key: key, Kind: KindRate, Quota: quota, Window: window, Burst: burst}
}

func budget(name, key string, units int64, window time.Duration, cost int64) Limit {
	return Limit{Name: name, Key: key, Kind: KindBudget, Quota: units, Window: window, Cost: cost}
}
