package main

import (
	"fmt"
	"io"
	"strings"
)

// The targets, as ratios to the noop floor of the same run.
const (
	targetCPU     = 2.0 // server CPU per request (moonshot 1.5)
	moonshotCPU   = 1.5
	targetP99     = 3.0  // p99 at the fixed rate
	targetRSSMiB  = 64.0 // peak RSS, absolute
	expectDenyPct = 20.0 // the fixture mix: 4 of 20 requests are denied
	denyTolerance = 0.5  // percentage points
	subject       = "mcp-authz"
	floor         = "noop"
)

// write prints the comparison table and, when both mcp-authz and the noop
// floor ran, the targets.
func write(w io.Writer, rows []row) error {
	var b strings.Builder
	var base, us *row
	for i := range rows {
		switch rows[i].server {
		case floor:
			base = &rows[i]
		case subject:
			us = &rows[i]
		}
	}
	b.WriteString("| server | req/s (c=16) | server CPU µs/req (c=16) | ratio to noop | CPU µs/req @ fixed rate | p99 µs @ fixed rate | p99 ratio | peak RSS MiB | deny % | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %s | %.0f | %.0f | %s | %.1f | %.0f | %d |\n", r.server, r.rps, r.cpu,
			ratio(r.cpu, base, func(x *row) float64 { return x.cpu }), r.cpuRate, r.p99,
			ratio(r.p99, base, func(x *row) float64 { return x.p99 }), r.rssMiB, r.denyPct, r.errors)
	}
	if base != nil && us != nil {
		b.WriteString("\n")
		b.WriteString(targets(*us, *base))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ratio formats v over base's figure, or "n/a" without a floor.
func ratio(v float64, base *row, f func(*row) float64) string {
	if base == nil || f(base) <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", v/f(base))
}

// targets judges us against the targets.
func targets(us, base row) string {
	var b strings.Builder
	b.WriteString("| target | measured | met |\n|---|---|---|\n")
	cpu, p99 := us.cpu/max(base.cpu, 1e-9), us.p99/max(base.p99, 1e-9)
	cpuNote := ""
	if cpu <= moonshotCPU {
		cpuNote = " (moonshot met)"
	}
	line := func(target, measured string, met bool) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", target, measured, yes(met))
	}
	line("server CPU/req ≤ 2× noop (c=16)", fmt.Sprintf("%.2f× (%.0f / %.0f µs)%s", cpu, us.cpu, base.cpu, cpuNote),
		us.haveClosed && base.haveClosed && cpu <= targetCPU)
	line("p99 @ fixed rate ≤ 3× noop", fmt.Sprintf("%.2f× (%.0f / %.0f µs)", p99, us.p99, base.p99),
		us.haveFixed && base.haveFixed && p99 <= targetP99)
	line("peak RSS < 64 MiB", fmt.Sprintf("%.1f MiB", us.rssMiB), us.rssMiB < targetRSSMiB)
	line("zero errors", fmt.Sprintf("%d", us.errors), us.errors == 0)
	line("20 % denies", fmt.Sprintf("%.1f %%", us.denyPct),
		us.denyPct >= expectDenyPct-denyTolerance && us.denyPct <= expectDenyPct+denyTolerance)
	return b.String()
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
