package mcp

import (
	"bytes"
	"errors"
	"fmt"
)

// Server-Sent Events framing of the Streamable HTTP transport. A response
// inspector sees an SSE body in chunks cut wherever the network cut it: in
// the middle of a line, of a "data:" field name, of a UTF-8 sequence or
// between the CR and LF of a line ending. SSEReader holds such partial
// events across chunks and hands back only complete ones, each with its
// exact bytes, so an event nobody changes passes through byte for byte.

// DefaultMaxEventBytes bounds one SSE event held while it is incomplete.
const DefaultMaxEventBytes = 4 << 20

// ErrEventTooLarge is returned when one incomplete SSE event outgrows the
// reader's bound: an inspector must not hold an unbounded event in memory.
var ErrEventTooLarge = errors.New("sse: event exceeds the size limit")

// SSEEvent is one complete Server-Sent Event (WHATWG HTML §9.2.6).
type SSEEvent struct {
	// Raw is the event exactly as received, including the blank line that
	// ends it (and any leading byte-order mark of the stream's first event).
	Raw []byte
	// Type is the event field ("" when absent, which dispatches as "message").
	Type string
	// Data is the event's data fields joined with "\n".
	Data []byte
	// HasData is true when the event had at least one data field.
	HasData bool
	// ID is the last id field ("" when absent).
	ID string
}

// IsMessage reports whether the event is one MCP can carry: a "message"
// event with data. Comments, keep-alives and other event types are not.
func (e SSEEvent) IsMessage() bool {
	return e.HasData && (e.Type == "" || e.Type == "message")
}

// SSEReader splits an SSE stream, fed in arbitrary chunks, into events.
// The zero value is not usable; use NewSSEReader.
type SSEReader struct {
	buf   []byte
	max   int
	first bool // no event returned yet: a leading BOM belongs to the first event
	line  int  // start of the unterminated line: buf[:line] is whole non-empty lines
	scan  int  // buf[line:scan] holds no line terminator
}

// NewSSEReader returns a reader holding at most maxEvent bytes of one
// incomplete event (DefaultMaxEventBytes when maxEvent <= 0).
func NewSSEReader(maxEvent int) *SSEReader {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEventBytes
	}
	return &SSEReader{max: maxEvent, first: true}
}

// Feed appends chunk to the held bytes and returns every event it
// completes, in order. Bytes of an event not yet ended by a blank line stay
// held. It fails with ErrEventTooLarge when the held bytes exceed the bound.
func (r *SSEReader) Feed(chunk []byte) ([]SSEEvent, error) {
	r.buf = append(r.buf, chunk...)
	var out []SSEEvent
	for {
		n := r.eventEnd()
		if n < 0 {
			break
		}
		raw := bytes.Clone(r.buf[:n])
		out = append(out, parseEvent(raw, r.first))
		r.first, r.line, r.scan = false, 0, 0
		r.buf = r.buf[n:]
	}
	if len(r.buf) > r.max {
		return out, fmt.Errorf("%w: more than %d bytes held", ErrEventTooLarge, r.max)
	}
	if len(r.buf) == 0 {
		r.buf = nil // let a large consumed buffer go
	}
	return out, nil
}

// Pending returns the bytes of an event not yet complete. At the end of a
// stream they are an unterminated event, which a client discards (WHATWG:
// "pending data must be discarded" at end of file).
func (r *SSEReader) Pending() []byte { return r.buf }

// eventEnd returns the length of the first complete event in r.buf (up to
// and including the empty line that ends it), or -1. It resumes where the
// last call stopped, so a large event fed in small chunks is scanned once.
// A CR as the last byte may be the first half of a CRLF, so it ends nothing
// until more arrives.
func (r *SSEReader) eventEnd() int {
	b := r.buf
	for {
		i := r.scan
		for i < len(b) && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		if i == len(b) || (b[i] == '\r' && i+1 == len(b)) {
			r.scan = i
			return -1
		}
		next := i + 1
		if b[i] == '\r' && b[i+1] == '\n' {
			next = i + 2
		}
		if i == r.line { // empty line: the event is complete
			return next
		}
		r.line, r.scan = next, next
	}
}

// lineEnd finds the end of the line starting at pos: end is where its
// content stops, next where the following line starts; next is -1 when
// the line is not terminated yet.
func lineEnd(b []byte, pos int) (end, next int) {
	for i := pos; i < len(b); i++ {
		switch b[i] {
		case '\n':
			return i, i + 1
		case '\r':
			if i+1 == len(b) {
				return -1, -1 // CR or CRLF? wait for the next byte
			}
			if b[i+1] == '\n' {
				return i, i + 2
			}
			return i, i + 1
		}
	}
	return -1, -1
}

// utf8BOM is the byte-order mark a stream may start with (ignored).
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parseEvent reads the fields of one complete event.
func parseEvent(raw []byte, first bool) SSEEvent {
	ev := SSEEvent{Raw: raw}
	b := raw
	if first {
		b = bytes.TrimPrefix(b, utf8BOM)
	}
	var data [][]byte
	for pos := 0; ; {
		end, next := lineEnd(b, pos)
		if next < 0 || end == pos {
			break
		}
		name, value := splitField(b[pos:end])
		switch string(name) {
		case "data":
			data = append(data, value)
		case "event":
			ev.Type = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID = string(value)
			}
		}
		pos = next
	}
	if len(data) > 0 {
		ev.HasData = true
		ev.Data = bytes.Join(data, []byte{'\n'})
	}
	return ev
}

// splitField splits "name: value" (one optional space after the colon); a
// line without a colon is a field name with an empty value, and a line
// starting with a colon is a comment (empty name).
func splitField(line []byte) (name, value []byte) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil
	}
	value = line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return line[:i], value
}

// WithData returns the event's bytes with its data replaced by data (one
// JSON text without newlines): every other line (event, id, retry,
// comments) is kept in place and the data fields become one "data: " line
// where the first one was.
func (e SSEEvent) WithData(data []byte) []byte {
	out := make([]byte, 0, len(e.Raw)+len(data))
	b := e.Raw
	wrote := false
	for pos := 0; ; {
		end, next := lineEnd(b, pos)
		if next < 0 || end == pos {
			break
		}
		line := b[pos:end]
		if pos == 0 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if name, _ := splitField(line); string(name) == "data" {
			if !wrote {
				out = append(append(append(out, "data: "...), data...), '\n')
				wrote = true
			}
		} else {
			out = append(append(out, line...), '\n')
		}
		pos = next
	}
	if !wrote {
		out = append(append(append(out, "data: "...), data...), '\n')
	}
	return append(out, '\n')
}

// MessageEvent returns an SSE "message" event carrying one JSON text
// (without newlines), e.g. the JSON-RPC error that replaces a result.
func MessageEvent(data []byte) []byte {
	out := make([]byte, 0, len(data)+24)
	out = append(append(append(out, "event: message\ndata: "...), data...), "\n\n"...)
	return out
}
