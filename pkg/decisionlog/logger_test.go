package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// blockingSink holds every Write until release is closed. entered, when
// set, is signalled once per Write so a test knows the writer is parked.
type blockingSink struct {
	release chan struct{}
	entered chan struct{}
	mu      sync.Mutex
	got     []*mcpauthzv1.DecisionRecord
}

func (s *blockingSink) Write(_ context.Context, recs []*mcpauthzv1.DecisionRecord) error {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, recs...)
	return nil
}

func (s *blockingSink) Close() error { return nil }

func record(reason string) *mcpauthzv1.DecisionRecord {
	return &mcpauthzv1.DecisionRecord{Decision: "deny", Reason: reason, Timestamp: timestamppb.Now()}
}

func TestLoggerDropsWhenFull(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	l := New(sink, Options{BufferRecords: 2})
	// Park the writer inside the sink first, so the queue is the only
	// place left for records and the count below does not depend on how
	// the scheduler interleaves Log with the writer's batching.
	l.Log(Event{Record: record("first")})
	<-sink.entered
	const n = 10
	for range n - 1 {
		l.Log(Event{Record: record("r")}) // must return at once although the sink is blocked
	}
	if d := l.Dropped(); d != n-1-2 {
		t.Errorf("Dropped() = %d with a parked sink and a buffer of 2; want %d", d, n-1-2)
	}
	close(sink.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if w, d := l.Written(), l.Dropped(); w+d != n || w == 0 {
		t.Errorf("Written() + Dropped() = %d + %d; want %d with some written", w, d, n)
	}
	l.Log(Event{Record: record("late")})
	if d := l.Dropped(); d == 0 {
		t.Errorf("Log after Close was not counted as dropped")
	}
}

func TestLoggerMasksOffThePath(t *testing.T) {
	args := map[string]any{"password": "hunter2", "q": json.Number("3")}
	rules, err := ParseMaskRules([]any{"/arguments/password"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		logArgs bool
		rules   []MaskRule
		want    string
	}{
		{"erased by default", false, rules, `"erased":["/arguments"]`},
		{"no rules for the tool", true, nil, `"erased":["/arguments"]`},
		{"masked by rules", true, rules, `"arguments":{"q":3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(NewWriterSink(&buf), Options{LogArguments: tc.logArgs})
			l.Log(Event{Record: record("allowed"), Arguments: args, Rules: tc.rules})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			line := strings.ReplaceAll(buf.String(), " ", "")
			if !strings.Contains(line, tc.want) || strings.Contains(line, "hunter2") {
				t.Errorf("record %s; want %s and no password", line, tc.want)
			}
			if !strings.Contains(line, `"decision_id":"`) || strings.Count(buf.String(), "\n") != 1 {
				t.Errorf("record %q: want one line with a decision_id", buf.String())
			}
		})
	}
	if args["password"] != "hunter2" {
		t.Errorf("masking modified the caller's arguments")
	}
}

func TestHTTPSinkOPAFormat(t *testing.T) {
	var calls atomic.Int32
	got := make(chan []map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first attempt is retried
			return
		}
		if r.Header.Get("Content-Encoding") != "gzip" || r.Method != http.MethodPost {
			t.Errorf("upload %s with Content-Encoding %q; want a gzip POST", r.Method, r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("body is not gzip: %v", err)
			return
		}
		b, _ := io.ReadAll(zr)
		var events []map[string]any
		if err := json.Unmarshal(b, &events); err != nil {
			t.Errorf("body is not a JSON array: %v", err)
		}
		got <- events
	}))
	defer srv.Close()
	sink := NewHTTPSink(srv.URL, srv.Client(), map[string]string{"app": "mcp-authz"})
	sink.sleep = func(context.Context, time.Duration) error { return nil }
	rec := record("tool_not_allowed")
	rec.DecisionId, rec.BundleRevision = "d-1", "rev-7"
	if err := sink.Write(context.Background(), []*mcpauthzv1.DecisionRecord{rec}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	events := <-got
	if len(events) != 1 {
		t.Fatalf("uploaded %d events; want 1", len(events))
	}
	ev := events[0]
	bundles, _ := ev["bundles"].(map[string]any)
	rev, _ := bundles[BundleName].(map[string]any)
	result, _ := ev["result"].(map[string]any)
	if ev["decision_id"] != "d-1" || rev["revision"] != "rev-7" || ev["path"] != DecisionPath || result["allow"] != false {
		t.Errorf("event %v; want decision_id d-1, bundle revision rev-7, path %s and allow false", ev, DecisionPath)
	}
}

func TestHTTPSinkGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	sink := NewHTTPSink(srv.URL, srv.Client(), nil)
	if err := sink.Write(context.Background(), []*mcpauthzv1.DecisionRecord{record("r")}); err == nil {
		t.Errorf("Write to a collector answering 400 = nil; want an error")
	}
}

// batchSink records the size of every batch written to it.
type batchSink struct {
	mu      sync.Mutex
	batches []int
	wrote   chan struct{}
}

func (s *batchSink) Write(_ context.Context, recs []*mcpauthzv1.DecisionRecord) error {
	s.mu.Lock()
	s.batches = append(s.batches, len(recs))
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return nil
}

func (s *batchSink) Close() error { return nil }

func (s *batchSink) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// TestLoggerLingersForABatch: with an interval no test outlives, records
// are written together, a full batch goes out without waiting for the
// interval, and Close writes what lingers. Nothing here depends on timing:
// the interval never elapses.
func TestLoggerLingersForABatch(t *testing.T) {
	sink := &batchSink{wrote: make(chan struct{}, 1)}
	l := New(sink, Options{FlushInterval: time.Hour})
	for range maxBatch + 3 {
		l.Log(Event{Record: record("r")})
	}
	select { // a full batch is written at once
	case <-sink.wrote:
	case <-time.After(30 * time.Second):
		t.Fatalf("no batch written with %d records queued; got %v", maxBatch+3, sink.sizes())
	}
	if got := sink.sizes(); len(got) != 1 || got[0] != maxBatch {
		t.Fatalf("batches %v before Close; want one of %d", got, maxBatch)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := sink.sizes(); len(got) != 2 || got[1] != 3 {
		t.Fatalf("batches %v after Close; want [%d 3]", got, maxBatch)
	}
	if l.Written() != maxBatch+3 {
		t.Fatalf("Written() = %d; want %d", l.Written(), maxBatch+3)
	}
}

// TestLoggerFlushesAfterTheInterval: a lone record on an idle server is
// written once the interval passes (eventually; no bound is asserted).
func TestLoggerFlushesAfterTheInterval(t *testing.T) {
	sink := &batchSink{wrote: make(chan struct{}, 1)}
	l := New(sink, Options{FlushInterval: time.Millisecond})
	defer l.Close()
	l.Log(Event{Record: record("alone")})
	select {
	case <-sink.wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("a lone record was never written")
	}
	if got := sink.sizes(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("batches %v; want [1]", got)
	}
}

// TestOneBadRecordCostsOnlyItself: a record the encoder refuses (invalid
// UTF-8) is skipped and counted as failed; the rest of its batch is
// written, to a line sink and to an HTTP collector.
func TestOneBadRecordCostsOnlyItself(t *testing.T) {
	bad := record("bad")
	bad.Reason = "\xff"
	var uploaded atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var events []map[string]any
		if err := json.NewDecoder(zr).Decode(&events); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		uploaded.Add(int64(len(events)))
	}))
	defer srv.Close()
	var buf bytes.Buffer
	for name, sink := range map[string]Sink{"line": NewWriterSink(&buf), "http": NewHTTPSink(srv.URL, srv.Client(), nil)} {
		t.Run(name, func(t *testing.T) {
			l := New(sink, Options{FlushInterval: time.Hour}) // one batch, written by Close
			l.Log(Event{Record: record("a")})
			l.Log(Event{Record: bad})
			l.Log(Event{Record: record("b")})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if w, f := l.Written(), l.Failed(); w != 2 || f != 1 {
				t.Fatalf("Written() = %d, Failed() = %d; want 2 and 1", w, f)
			}
		})
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("line sink wrote %d lines; want 2", n)
	}
	if n := uploaded.Load(); n != 2 {
		t.Errorf("collector received %d events; want 2", n)
	}
}
