package ratelimit

import (
	"math"
	"time"
)

// The arithmetic runs in integer microseconds since the Unix epoch: exact in
// int64 here and in the doubles of Redis's Lua (every value stays below
// 2^53), so both backends reach the same verdict from the same state.

// maxTau bounds a rate's burst tolerance (about 142 years in µs) so that
// now + tau stays below 2^53.
const maxTau = 1 << 52

// micros returns t in microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// params are a limit's constants in microseconds.
type params struct {
	interval int64 // rate: µs between requests at the sustained rate (T)
	tau      int64 // rate: burst tolerance, interval × burst
	window   int64 // budget: window length
}

// paramsOf derives the GCRA and window constants of l.
func paramsOf(l Limit) params {
	p := params{window: l.Window.Microseconds()}
	if l.Kind != KindRate {
		return p
	}
	p.interval = max(p.window/l.Quota, 1)
	burst := l.Burst
	if burst <= 0 {
		burst = l.Quota
	}
	if burst > maxTau/p.interval {
		p.tau = maxTau
	} else {
		p.tau = p.interval * burst
	}
	return p
}

// windowStart is the start of the budget window holding now.
func (p params) windowStart(now int64) int64 { return now - now%p.window }

// step judges one request against a limit whose stored state is v (the
// rate's tat or the budget's spent units; 0 when absent).
func step(l Limit, p params, v, now int64) Status {
	if l.Kind == KindRate {
		return rateStep(l, p, v, now)
	}
	return budgetStep(l, p, v, now)
}

// charge returns the state to store once a request is counted.
func charge(l Limit, p params, v, now int64) int64 {
	if l.Kind == KindRate {
		return max(v, now) + p.interval
	}
	return v + l.Cost
}

// expiry is when a stored state becomes equal to an absent one.
func expiry(l Limit, p params, v, now int64) int64 {
	if l.Kind == KindRate {
		return v
	}
	return p.windowStart(now) + p.window
}

// rateStep is one GCRA step: tat is the stored theoretical arrival time
// (0 when absent).
func rateStep(l Limit, p params, tat, now int64) Status {
	tat = max(tat, now)
	next := tat + p.interval // a request costs one emission interval
	st := Status{Limit: l}
	if diff := next - now; diff <= p.tau {
		st.Allowed = true
		st.Remaining = (p.tau - diff) / p.interval
		st.Reset = usec(diff)
		return st
	}
	st.Remaining = max(0, (p.tau-(tat-now))/p.interval)
	st.Reset = usec(tat - now)
	st.RetryAfter = usec(next - now - p.tau)
	return st
}

// budgetStep judges l.Cost against a budget that has spent units in the
// window holding now.
func budgetStep(l Limit, p params, spent, now int64) Status {
	end := p.windowStart(now) + p.window
	st := Status{Limit: l, Reset: usec(end - now)}
	if spent+l.Cost <= l.Quota {
		st.Allowed = true
		st.Remaining = l.Quota - spent - l.Cost
		return st
	}
	st.Remaining = max(0, l.Quota-spent)
	st.RetryAfter = usec(end - now)
	return st
}

// unspent is the status of a limit that allowed a request another limit
// refused: nothing was charged, so it shows the state without the request
// (one more request or cost more units remaining; a rate whole one
// emission interval sooner).
func unspent(st Status) Status {
	if st.Limit.Kind == KindRate {
		st.Remaining++
		st.Reset = max(st.Reset-usec(paramsOf(st.Limit).interval), 0)
		return st
	}
	st.Remaining += st.Limit.Cost
	return st
}

// protectUntil is when a caller counted in state v (tat or spent) could
// next be allowed a request: until then it is at or over its limit, and the
// local store never evicts it, so eviction cannot reset a limited caller.
func protectUntil(l Limit, p params, v int64, refused bool, now int64) int64 {
	if l.Kind == KindRate {
		return v + p.interval - p.tau
	}
	if refused || v >= l.Quota {
		return p.windowStart(now) + p.window
	}
	return 0
}

func usec(n int64) time.Duration {
	if n > math.MaxInt64/int64(time.Microsecond) {
		return math.MaxInt64
	}
	return time.Duration(n) * time.Microsecond
}
