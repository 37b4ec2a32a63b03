package decisionlog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/natefinch/lumberjack.v2"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// lineFormat writes a record as one line of protojson with the proto field
// names as keys, the format of the stdout and file sinks. Every field is
// written, empty ones too, so each record has the same keys whatever the
// Check reached.
var lineFormat = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// MarshalLine returns r as one protojson line (without the newline).
func MarshalLine(r *mcpauthzv1.DecisionRecord) ([]byte, error) {
	return lineFormat.Marshal(r)
}

// LineSink writes one protojson record per line to a writer.
type LineSink struct {
	mu     sync.Mutex
	w      *bufio.Writer
	closer io.Closer
}

// NewWriterSink writes to w (e.g. os.Stdout); Close flushes but does not
// close w.
func NewWriterSink(w io.Writer) *LineSink {
	return &LineSink{w: bufio.NewWriterSize(w, 64<<10)}
}

// File rotation defaults: the file is rotated at FileMaxMB, keeping
// FileMaxBackups old files, compressed.
const (
	FileMaxMB      = 100
	FileMaxBackups = 10
)

// NewFileSink appends to path, rotating it (lumberjack, as OPA's own
// console and file logging do) at FileMaxMB.
func NewFileSink(path string) *LineSink {
	lj := &lumberjack.Logger{Filename: path, MaxSize: FileMaxMB, MaxBackups: FileMaxBackups, Compress: true}
	s := NewWriterSink(lj)
	s.closer = lj
	return s
}

// Write implements Sink: one line per record, flushed per batch.
func (s *LineSink) Write(_ context.Context, recs []*mcpauthzv1.DecisionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		b, err := MarshalLine(r)
		if err != nil {
			return fmt.Errorf("decision log: marshal: %w", err)
		}
		b = append(b, '\n')
		if _, err := s.w.Write(b); err != nil {
			return fmt.Errorf("decision log: write: %w", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("decision log: flush: %w", err)
	}
	return nil
}

// Close implements Sink.
func (s *LineSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.w.Flush()
	if s.closer != nil {
		if cerr := s.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
