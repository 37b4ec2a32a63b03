package mcp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSSEReaderEvents(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		want    []SSEEvent // Raw, Type, Data, HasData, ID compared
		pending string
	}{
		{name: "one message", stream: "event: message\ndata: {\"a\":1}\n\n",
			want: []SSEEvent{{Raw: []byte("event: message\ndata: {\"a\":1}\n\n"), Type: "message", Data: []byte(`{"a":1}`), HasData: true}}},
		{name: "multi-line data joined", stream: "data: {\"a\":\ndata:1}\n\n",
			want: []SSEEvent{{Raw: []byte("data: {\"a\":\ndata:1}\n\n"), Data: []byte("{\"a\":\n1}"), HasData: true}}},
		{name: "crlf and cr endings", stream: "id: 7\r\ndata: x\r\rdata: y\n\n",
			want: []SSEEvent{
				{Raw: []byte("id: 7\r\ndata: x\r\r"), ID: "7", Data: []byte("x"), HasData: true},
				{Raw: []byte("data: y\n\n"), Data: []byte("y"), HasData: true}}},
		{name: "comment and retry only", stream: ": keep-alive\nretry: 100\n\n",
			want: []SSEEvent{{Raw: []byte(": keep-alive\nretry: 100\n\n")}}},
		{name: "field without colon", stream: "data\n\n",
			want: []SSEEvent{{Raw: []byte("data\n\n"), Data: []byte{}, HasData: true}}},
		{name: "leading bom", stream: "\xEF\xBB\xBFdata: x\n\n",
			want: []SSEEvent{{Raw: []byte("\xEF\xBB\xBFdata: x\n\n"), Data: []byte("x"), HasData: true}}},
		{name: "unterminated tail held", stream: "data: x\n\ndata: partial\n",
			want:    []SSEEvent{{Raw: []byte("data: x\n\n"), Data: []byte("x"), HasData: true}},
			pending: "data: partial\n"},
		{name: "trailing cr held", stream: "data: x\r\n\r",
			pending: "data: x\r\n\r"},
		{name: "id with nul ignored", stream: "id: a\x00b\ndata: x\n\n",
			want: []SSEEvent{{Raw: []byte("id: a\x00b\ndata: x\n\n"), Data: []byte("x"), HasData: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewSSEReader(0)
			got, err := r.Feed([]byte(tt.stream))
			if err != nil {
				t.Fatalf("Feed: %v", err)
			}
			if !eventsEqual(got, tt.want) {
				t.Errorf("Feed(%q) = %+v; want %+v", tt.stream, got, tt.want)
			}
			if string(r.Pending()) != tt.pending {
				t.Errorf("Pending() = %q; want %q", r.Pending(), tt.pending)
			}
		})
	}
}

func eventsEqual(a, b []SSEEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) || a[i].Type != b[i].Type || !bytes.Equal(a[i].Data, b[i].Data) ||
			a[i].HasData != b[i].HasData || a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

func TestSSEReaderBound(t *testing.T) {
	r := NewSSEReader(16)
	if _, err := r.Feed([]byte("data: 0123456789abcdef")); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("Feed(17 bytes held, limit 16) = %v; want ErrEventTooLarge", err)
	}
	r = NewSSEReader(16)
	if evs, err := r.Feed([]byte("data: 0123456\n\ndata: 0123456\n\n")); err != nil || len(evs) != 2 {
		t.Fatalf("Feed(two complete events) = %d events, %v; want 2, nil (complete events are not held)", len(evs), err)
	}
}

func TestSSEEventWithData(t *testing.T) {
	tests := []struct{ name, raw, data, want string }{
		{"keeps other lines", "event: message\nid: 3\ndata: {\"a\":\ndata: 1}\nretry: 5\n\n", `{"b":2}`,
			"event: message\nid: 3\ndata: {\"b\":2}\nretry: 5\n\n"},
		{"normalises crlf", "data: x\r\n\r\n", `1`, "data: 1\n\n"},
		{"adds data when none", "event: message\n\n", `1`, "event: message\ndata: 1\n\n"},
		{"drops bom", "\xEF\xBB\xBFdata: x\n\n", `1`, "data: 1\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewSSEReader(0)
			evs, err := r.Feed([]byte(tt.raw))
			if err != nil || len(evs) != 1 {
				t.Fatalf("Feed(%q) = %d events, %v", tt.raw, len(evs), err)
			}
			if got := string(evs[0].WithData([]byte(tt.data))); got != tt.want {
				t.Errorf("WithData(%q) = %q; want %q", tt.data, got, tt.want)
			}
		})
	}
}

// feedAll feeds stream cut at the given offsets and returns every event's
// raw bytes joined, plus what is still pending.
func feedAll(t testing.TB, stream []byte, cuts []int) (string, []SSEEvent, string) {
	r := NewSSEReader(len(stream) + 1)
	var evs []SSEEvent
	prev := 0
	for _, c := range append(cuts, len(stream)) {
		got, err := r.Feed(stream[prev:c])
		if err != nil {
			t.Fatalf("Feed: %v", err)
		}
		evs = append(evs, got...)
		prev = c
	}
	var raw bytes.Buffer
	for _, e := range evs {
		raw.Write(e.Raw)
	}
	return raw.String(), evs, string(r.Pending())
}

func TestSSEReaderTestdataEveryCut(t *testing.T) {
	files, err := filepath.Glob("testdata/sse/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/sse/*.sse: %v", err)
	}
	for _, f := range files {
		stream, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			wantRaw, want, wantPending := feedAll(t, stream, nil)
			for i := 0; i <= len(stream); i++ {
				for _, j := range []int{i, min(i+1, len(stream)), min(i+3, len(stream))} {
					raw, got, pending := feedAll(t, stream, []int{i, j})
					if raw != wantRaw || pending != wantPending || !eventsEqual(got, want) {
						t.Fatalf("cut at %d,%d: events differ from the unchunked stream", i, j)
					}
				}
			}
			if wantRaw+wantPending != string(stream) {
				t.Errorf("events + pending do not add up to the stream")
			}
		})
	}
}

func FuzzSSEReaderChunking(f *testing.F) {
	files, _ := filepath.Glob("testdata/sse/*.sse")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(1), uint16(7), uint16(13))
	}
	f.Add([]byte("data: x\r\n\r\ndata: \xe2\x82\xac\r\r"), uint16(8), uint16(9), uint16(17))
	f.Fuzz(func(t *testing.T, stream []byte, a, b, c uint16) {
		wantRaw, want, wantPending := feedAll(t, stream, nil)
		if wantRaw+wantPending != string(stream) {
			t.Fatalf("events + pending = %q; want the stream %q", wantRaw+wantPending, stream)
		}
		cuts := []int{int(a) % (len(stream) + 1), int(b) % (len(stream) + 1), int(c) % (len(stream) + 1)}
		for i := 1; i < len(cuts); i++ {
			cuts[i] = max(cuts[i], cuts[i-1])
		}
		raw, got, pending := feedAll(t, stream, cuts)
		if raw != wantRaw || pending != wantPending || !eventsEqual(got, want) {
			t.Fatalf("chunked at %v: %q + %q; unchunked: %q + %q", cuts, raw, pending, wantRaw, wantPending)
		}
	})
}
