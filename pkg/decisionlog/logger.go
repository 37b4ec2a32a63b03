// Package decisionlog is mcp-authz's audit trail: one DecisionRecord
// (proto/mcpauthz/v1) per decided Check, masked, queued in a bounded
// buffer and written by one goroutine to a sink (stdout, a rotating file,
// or an HTTP collector speaking OPA's decision-log upload format).
//
// Logging never blocks a Check: when the buffer is full the record is
// dropped and counted, and an operator sees the count in a metric. Tool
// arguments are erased unless masking rules from the policy data say how to
// log them; the record type has no field for a token, cookie or DPoP proof.
package decisionlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/redact"
	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// Defaults.
const (
	// DefaultBufferRecords bounds the records waiting for the sink.
	DefaultBufferRecords = 10000
	// maxBatch is the most records written to the sink at once.
	maxBatch = 512
	// DefaultFlushInterval is how long the writer waits for more records
	// after the first of a batch (Options.FlushInterval).
	DefaultFlushInterval = 100 * time.Millisecond
)

// Sink writes batches of records. Write is called from one goroutine.
type Sink interface {
	// Write writes the batch; an error drops it (counted).
	Write(ctx context.Context, recs []*mcpauthzv1.DecisionRecord) error
	// Close flushes and releases the sink.
	Close() error
}

// Event is one decision handed to the logger: the record without its
// arguments, and the arguments with the rules that mask them.
type Event struct {
	// Record is filled by the caller except decision_id, arguments,
	// erased and masked.
	Record *mcpauthzv1.DecisionRecord
	// Arguments are the tool arguments as parsed (never modified).
	Arguments map[string]any
	// Rules mask Arguments; nil erases them whole.
	Rules []MaskRule
}

// Options configure a Logger.
type Options struct {
	// BufferRecords bounds the queue (default DefaultBufferRecords).
	BufferRecords int
	// LogArguments logs arguments through Rules (mask_arguments); when
	// false every record's arguments are erased.
	LogArguments bool
	// Logger reports sink failures (never a record's content).
	Logger *slog.Logger
	// FlushInterval is how long the writer lingers after a batch's first
	// record for more (up to maxBatch) before writing: under load a file
	// sink then makes one write and an HTTP sink one upload per interval,
	// not one per Check (a write per record measured about 6 % of a busy
	// server's CPU in syscalls). It bounds how late a record reaches the
	// sink. 0 is DefaultFlushInterval; negative writes what is queued at
	// once.
	FlushInterval time.Duration
}

// Logger queues events and writes them to a sink in the background.
type Logger struct {
	opts    Options
	sink    Sink
	queue   chan Event
	dropped atomic.Uint64
	failed  atomic.Uint64
	written atomic.Uint64
	done    chan struct{} // closed by Close: no more records
	stopped chan struct{} // closed by run once the queue is drained
	once    sync.Once
}

// New starts a Logger writing to sink. Close stops it.
func New(sink Sink, opts Options) *Logger {
	if opts.BufferRecords <= 0 {
		opts.BufferRecords = DefaultBufferRecords
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	l := &Logger{opts: opts, sink: sink, queue: make(chan Event, opts.BufferRecords),
		done: make(chan struct{}), stopped: make(chan struct{})}
	go l.run()
	return l
}

// Log queues ev without ever blocking: when the buffer is full the record
// is dropped and counted. Log after Close drops.
func (l *Logger) Log(ev Event) {
	select {
	case <-l.done:
		l.dropped.Add(1)
		return
	default:
	}
	select {
	case l.queue <- ev:
	default:
		l.dropped.Add(1)
	}
}

// Dropped counts records dropped because the buffer was full (or the
// sink refused a batch: see Failed).
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Failed counts records lost because the sink failed to write them.
func (l *Logger) Failed() uint64 { return l.failed.Load() }

// Written counts records the sink accepted.
func (l *Logger) Written() uint64 { return l.written.Load() }

// Close stops accepting records, writes what is queued and closes the sink.
func (l *Logger) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		<-l.stopped
		err = l.sink.Close()
	})
	return err
}

// run drains the queue in batches until Close, then writes the rest.
func (l *Logger) run() {
	defer close(l.stopped)
	batch := make([]*mcpauthzv1.DecisionRecord, 0, maxBatch)
	for {
		select {
		case ev := <-l.queue:
			batch = l.linger(append(batch[:0], l.finish(ev)))
			l.write(batch)
		case <-l.done:
			for {
				batch = l.collect(batch[:0])
				if len(batch) == 0 {
					return
				}
				l.write(batch)
			}
		}
	}
}

// linger appends records as they come, for at most FlushInterval after
// the batch's first, until maxBatch or Close.
func (l *Logger) linger(batch []*mcpauthzv1.DecisionRecord) []*mcpauthzv1.DecisionRecord {
	if l.opts.FlushInterval < 0 {
		return l.collect(batch)
	}
	t := time.NewTimer(l.opts.FlushInterval)
	defer t.Stop()
	for len(batch) < maxBatch {
		select {
		case ev := <-l.queue:
			batch = append(batch, l.finish(ev))
		case <-t.C:
			return batch
		case <-l.done:
			return l.collect(batch)
		}
	}
	return batch
}

// collect appends what is queued now, up to maxBatch.
func (l *Logger) collect(batch []*mcpauthzv1.DecisionRecord) []*mcpauthzv1.DecisionRecord {
	for len(batch) < maxBatch {
		select {
		case ev := <-l.queue:
			batch = append(batch, l.finish(ev))
		default:
			return batch
		}
	}
	return batch
}

// sinkTimeout bounds one batch write, retries included.
const sinkTimeout = 30 * time.Second

func (l *Logger) write(batch []*mcpauthzv1.DecisionRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), sinkTimeout)
	defer cancel()
	err := l.sink.Write(ctx, batch)
	var skipped *Unencodable
	switch {
	case err == nil:
		l.written.Add(uint64(len(batch)))
	case errors.As(err, &skipped):
		l.failed.Add(uint64(skipped.N))
		l.written.Add(uint64(len(batch) - skipped.N))
		l.opts.Logger.Warn("decision log: records could not be encoded; lost", "records", skipped.N, redact.Attr("error", err))
	default:
		l.failed.Add(uint64(len(batch)))
		l.opts.Logger.Warn("decision log: sink write failed; records lost", "records", len(batch), redact.Attr("error", err))
	}
}

// Unencodable is a sink's report that it wrote a batch except N records
// it could not encode: one bad record costs itself, not its batch (a
// batch gathers up to maxBatch records).
type Unencodable struct {
	// N counts the records skipped.
	N int
	// Err is the first one's error.
	Err error
}

func (e *Unencodable) Error() string {
	return fmt.Sprintf("decision log: %d records skipped: %v", e.N, e.Err)
}

func (e *Unencodable) Unwrap() error { return e.Err }

// add counts one more skipped record.
func (e *Unencodable) add(err error) {
	if e.N++; e.Err == nil {
		e.Err = err
	}
}

// orNil returns e when it counted a record, else nil.
func (e *Unencodable) orNil() error {
	if e.N == 0 {
		return nil
	}
	return e
}

// finish completes a record off the Check path: its id and its masked
// arguments.
func (l *Logger) finish(ev Event) *mcpauthzv1.DecisionRecord {
	r := ev.Record
	r.DecisionId = uuid.NewString()
	if ev.Arguments == nil {
		return r
	}
	if !l.opts.LogArguments || ev.Rules == nil {
		r.Erased = []string{ArgumentsPointer}
		return r
	}
	args, erased, masked := Apply(ev.Arguments, ev.Rules)
	r.Erased, r.Masked = erased, masked
	if args != nil {
		s, err := structpb.NewStruct(jsonNumbersToFloat(args))
		if err != nil {
			r.Erased = []string{ArgumentsPointer}
			return r
		}
		r.Arguments = s
	}
	return r
}

// jsonNumbersToFloat converts json.Number values (the parser keeps number
// literals exact) into what structpb accepts, in place on a copy.
func jsonNumbersToFloat(m map[string]any) map[string]any {
	out, _ := convertNumbers(m).(map[string]any)
	return out
}

func convertNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = convertNumbers(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = convertNumbers(e)
		}
		return t
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	return v
}
