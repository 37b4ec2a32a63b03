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

// TestAppendFloatMatchesEncodingJSON over the format's edges.
func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789012345678901234.0,
		-2.5e-8, 3.141592653589793, 5e-324, 1.7976931348623157e308} {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendFloat(nil, f)); got != string(want) {
			t.Errorf("AppendFloat(%v) = %s; encoding/json writes %s", f, got, want)
		}
	}
}
