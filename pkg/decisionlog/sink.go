package decisionlog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// MarshalLine returns r as one line (without the newline) of the stdout
// and file sinks' format: protojson with the proto field names as keys and
// every field written, empty ones too, so each record has the same keys
// whatever the Check reached. It is written by appendLine (line.go), which
// a differential test holds to protojson.MarshalOptions{UseProtoNames:
// true, EmitUnpopulated: true}.
func MarshalLine(r *mcpauthzv1.DecisionRecord) ([]byte, error) {
	b, err := appendLine(make([]byte, 0, lineBufBytes), r)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// lineBufBytes sizes a line buffer: a typical record is about 1 KB. The
// sink keeps its buffer between records unless one grew it past
// maxKeptLineBuf (a record with large arguments), so one outlier does not
// pin its memory for the life of the process.
const (
	lineBufBytes   = 2 << 10
	maxKeptLineBuf = 64 << 10
)

// LineSink writes one protojson record per line to a writer.
type LineSink struct {
	mu     sync.Mutex
	w      *bufio.Writer
	closer io.Closer
	buf    []byte // the line being written, reused across records
}

// NewWriterSink writes to w (e.g. os.Stdout); Close flushes but does not
// close w.
func NewWriterSink(w io.Writer) *LineSink {
	return &LineSink{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, lineBufBytes)}
}

// File rotation defaults: the file is rotated at FileMaxMB, keeping
// FileMaxBackups old files.
const (
	FileMaxMB      = 100
	FileMaxBackups = 10
)

// FileOptions tune the file sink.
type FileOptions struct {
	// Compress gzips each rotated file in the background. Off by default
	// (lumberjack's default too): at 6,000 records/s the file rotates every
	// ~16 s and gzip of each 100 MB backup cost ~10 % of a 2-core server's
	// CPU, competing with Checks. Turn it on to keep backups small on disk.
	Compress bool
}

// NewFileSink appends to path, rotating it (lumberjack, as OPA's own
// console and file logging do) at FileMaxMB.
func NewFileSink(path string, opts FileOptions) *LineSink {
	lj := &lumberjack.Logger{Filename: path, MaxSize: FileMaxMB, MaxBackups: FileMaxBackups, Compress: opts.Compress}
	s := NewWriterSink(lj)
	s.closer = lj
	return s
}

// Write implements Sink: one line per record, flushed per batch.
func (s *LineSink) Write(_ context.Context, recs []*mcpauthzv1.DecisionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	skipped := &Unencodable{}
	for _, r := range recs {
		line, err := s.encode(r)
		if err != nil {
			skipped.add(err)
			continue
		}
		if _, err := s.w.Write(line); err != nil {
			return fmt.Errorf("decision log: write: %w", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("decision log: flush: %w", err)
	}
	return skipped.orNil()
}

// encode writes r as a line into the sink's reused buffer.
func (s *LineSink) encode(r *mcpauthzv1.DecisionRecord) ([]byte, error) {
	b, err := appendLine(s.buf[:0], r)
	if err != nil {
		return nil, fmt.Errorf("decision log: marshal: %w", err)
	}
	b = append(b, '\n')
	if cap(b) <= maxKeptLineBuf {
		s.buf = b
	}
	return b, nil
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
