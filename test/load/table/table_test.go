package main

import (
	"os"
	"strings"
	"testing"
)

func TestTableFromRun(t *testing.T) {
	f, err := os.Open("testdata/run.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runs, err := read(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 6 {
		t.Fatalf("read %d runs; want 6 (the non-JSON line skipped)", len(runs))
	}
	var b strings.Builder
	if err := write(&b, summarize(runs)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		// noop: closed medians of 15,000/16,000 req/s and 65/69 µs; rate 200 µs, p99 1,400.
		"| noop | 15500 | 67 | 1.00× | 200 | 1400 | 1.00× | 21.0 | 0 | 0 |",
		// mcp-authz: 120/160 µs → 140 (2.09×); p99 5,600/1,400 = 4×; 19,200 of 96,000 denied.
		"| mcp-authz | 5500 | 140 | 2.09× | 400 | 5600 | 4.00× | 60.5 | 20 | 0 |",
		"| server CPU/req ≤ 2× noop (c=16) | 2.09× (140 / 67 µs) | **no** |",
		"| p99 @ fixed rate ≤ 3× noop | 4.00× (5600 / 1400 µs) | **no** |",
		"| peak RSS < 64 MiB | 60.5 MiB | yes |",
		"| zero errors | 0 | yes |",
		"| 20 % denies | 20.0 % | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestTableWithoutFloorHasNoTargets(t *testing.T) {
	var b strings.Builder
	rows := summarize([]run{{Server: "mcp-authz", Mode: "closed", Requests: 10, ServerCPUS: 1, Throughput: 5}})
	if err := write(&b, rows); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "| target |") || !strings.Contains(b.String(), "n/a") {
		t.Fatalf("without a noop run: no targets, ratios n/a; got\n%s", b.String())
	}
}
