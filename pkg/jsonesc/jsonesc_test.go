package jsonesc

import (
	"encoding/json"
	"testing"
)

// TestAppendByteMatchesEncodingJSON: every byte encoding/json escapes is
// escaped exactly as it does (it escapes <, > and & too, as \u00xx).
func TestAppendByteMatchesEncodingJSON(t *testing.T) {
	for c := range byte(0x80) {
		want, err := json.Marshal(string([]byte{c}))
		if err != nil {
			t.Fatal(err)
		}
		inner := string(want[1 : len(want)-1])
		if inner == string([]byte{c}) {
			continue // encoding/json writes it as is
		}
		if got := string(AppendByte(nil, c)); got != inner {
			t.Errorf("AppendByte(%#x) = %q; encoding/json writes %q", c, got, inner)
		}
	}
}

func TestHex(t *testing.T) {
	for n, want := range "0123456789abcdef" {
		if got := Hex(byte(n)); got != byte(want) {
			t.Errorf("Hex(%d) = %c; want %c", n, got, want)
		}
	}
}
