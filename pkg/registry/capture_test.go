package registry

import (
	"bytes"
	"testing"
)

func TestSSEData(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one event", "event: message\nid: 1\ndata: {\"a\":1}\n\n", []string{`{"a":1}`}},
		{"crlf and two events", "data: x\r\n\r\ndata:y\r\n\r\n", []string{"x", "y"}},
		{"multi-line data", "data: a\ndata: b\n\n", []string{"a\nb"}},
		{"cut short", "data: {\"a\":", []string{`{"a":`}},
		{"comments only", ": keep-alive\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sseData([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("sseData(%q) = %q; want %q", tt.in, got, tt.want)
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("sseData(%q)[%d] = %q; want %q", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCollectToolsRejectsAmbiguousDefinitions(t *testing.T) {
	raw := map[string]map[string]any{}
	dup := `{"result":{"tools":[{"name":"t","description":"safe","description":"evil"}]}}`
	if err := collectTools([]byte(dup), raw); err == nil {
		t.Errorf("collectTools(duplicate keys) = nil; want an error")
	}
	twice := `{"result":{"tools":[{"name":"t","description":"a"},{"name":"t","description":"b"}]}}`
	if err := collectTools([]byte(twice), raw); err == nil {
		t.Errorf("collectTools(tool listed twice) = nil; want an error")
	}
	other := `{"result":{"tools":[null,{"noname":true}]}}`
	raw = map[string]map[string]any{}
	if err := collectTools([]byte(other), raw); err != nil || len(raw) != 0 {
		t.Errorf("collectTools(non-tools) = %v, %v; want them skipped", err, raw)
	}
}

// FuzzSSEData: every event's data is made of "data:" line contents, so the
// output is never longer than the input.
func FuzzSSEData(f *testing.F) {
	f.Add([]byte("event: message\ndata: {\"result\":{}}\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		total := 0
		for _, d := range sseData(in) {
			total += len(d)
			if bytes.Contains(d, []byte("\r")) && !bytes.Contains(in, []byte("\r")) {
				t.Fatalf("sseData(%q) invented a CR", in)
			}
		}
		if total > len(in) {
			t.Fatalf("sseData(%q) returned %d bytes from %d", in, total, len(in))
		}
	})
}
