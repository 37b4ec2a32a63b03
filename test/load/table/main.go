// Command table prints the performance issue's comparison from the JSON
// lines of one load run (../shared/bench/run-peer.sh, as test/load/run.sh
// writes them): per server, the closed-loop throughput and CPU per request,
// the p99 at the fixed rate, each as a ratio to the noop floor of the same
// run, then mcp-authz against its targets. Ratios, because absolute figures
// move with the machine and its load; the floor in the same run does not
// lie about either.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
)

// run is one run-peer.sh line (the fields used here).
type run struct {
	Server     string  `json:"server"`
	Mode       string  `json:"mode"` // "closed" or "rps"
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Throughput float64 `json:"throughput"`
	P99        float64 `json:"p99_us"`
	Deny       int     `json:"deny"`
	PeakRSSKB  float64 `json:"peak_rss_kb"`
	ServerCPUS float64 `json:"server_cpu_s"`
}

func main() {
	runs, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	if err := write(os.Stdout, summarize(runs)); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

// read decodes run lines; lines that are not runs (a server's own
// output) are skipped.
func read(r io.Reader) ([]run, error) {
	var runs []run
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var x run
		if json.Unmarshal(sc.Bytes(), &x) == nil && x.Server != "" {
			runs = append(runs, x)
		}
	}
	return runs, sc.Err()
}

// row is one server's medians over its repeats.
type row struct {
	server                 string
	rps, cpu, cpuRate, p99 float64 // closed req/s, closed CPU µs/req, fixed-rate CPU µs/req, fixed-rate p99 µs
	rssMiB, denyPct        float64 // peak over all runs; denies over all requests
	errors                 int
	haveClosed, haveFixed  bool
}

// summarize groups runs by server, in first-seen order.
func summarize(runs []run) []row {
	var order []string
	byServer := map[string][]run{}
	for _, r := range runs {
		if byServer[r.Server] == nil {
			order = append(order, r.Server)
		}
		byServer[r.Server] = append(byServer[r.Server], r)
	}
	rows := make([]row, 0, len(order))
	for _, s := range order {
		rows = append(rows, rowOf(s, byServer[s]))
	}
	return rows
}

// rowOf takes the medians of one server's runs.
func rowOf(server string, runs []run) row {
	rw := row{server: server}
	var closed, fixed []run
	reqs, deny := 0, 0
	for _, r := range runs {
		if r.Mode == "rps" {
			fixed = append(fixed, r)
		} else {
			closed = append(closed, r)
		}
		reqs += r.Requests
		deny += r.Deny
		rw.errors += r.Errors
		rw.rssMiB = max(rw.rssMiB, r.PeakRSSKB/1024)
	}
	rw.denyPct = 100 * float64(deny) / float64(max(reqs, 1))
	if rw.haveClosed = len(closed) > 0; rw.haveClosed {
		rw.rps = median(closed, func(r run) float64 { return r.Throughput })
		rw.cpu = median(closed, cpuPerReq)
	}
	if rw.haveFixed = len(fixed) > 0; rw.haveFixed {
		rw.cpuRate = median(fixed, cpuPerReq)
		rw.p99 = median(fixed, func(r run) float64 { return r.P99 })
	}
	return rw
}

// cpuPerReq is the server's CPU per answered request, in µs.
func cpuPerReq(r run) float64 { return r.ServerCPUS * 1e6 / float64(max(r.Requests, 1)) }

// median of f over runs (the mean of the middle two for an even count).
func median(runs []run, f func(run) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
