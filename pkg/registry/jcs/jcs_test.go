package jcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestCanonicalizeFiles runs the RFC 8785 examples kept in testdata/input,
// each with its expected canonical form in testdata/output.
func TestCanonicalizeFiles(t *testing.T) {
	inputs, err := filepath.Glob("testdata/input/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no test inputs: %v", err)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata/output", name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonicalize(src)
			if err != nil {
				t.Fatalf("Canonicalize(%s) error: %v", name, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Canonicalize(%s) = %s; want %s", name, got, want)
			}
		})
	}
}

// TestNumbers checks the ECMAScript number form on the IEEE 754 samples of
// RFC 8785 Appendix B and a few more boundaries.
func TestNumbers(t *testing.T) {
	tests := []struct {
		name string
		bits uint64
		want string
	}{
		{"zero", 0x0000000000000000, "0"},
		{"minus zero", 0x8000000000000000, "0"},
		{"min denormal", 0x0000000000000001, "5e-324"},
		{"minus min denormal", 0x8000000000000001, "-5e-324"},
		{"max double", 0x7fefffffffffffff, "1.7976931348623157e+308"},
		{"minus max double", 0xffefffffffffffff, "-1.7976931348623157e+308"},
		{"2^53", 0x4340000000000000, "9007199254740992"},
		{"minus 2^53", 0xc340000000000000, "-9007199254740992"},
		{"2^68", 0x4430000000000000, "295147905179352830000"},
		{"below 1e23", 0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{"1e23", 0x44b52d02c7e14af6, "1e+23"},
		{"above 1e23", 0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{"below 1e21 a", 0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{"below 1e21 b", 0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{"1e21", 0x444b1ae4d6e2ef50, "1e+21"},
		{"below 1e-6", 0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{"1e-6", 0x3eb0c6f7a0b5ed8d, "0.000001"},
		{"third a", 0x41b3de4355555553, "333333333.3333332"},
		{"third b", 0x41b3de4355555554, "333333333.33333325"},
		{"third c", 0x41b3de4355555555, "333333333.3333333"},
		{"third d", 0x41b3de4355555556, "333333333.3333334"},
		{"third e", 0x41b3de4355555557, "333333333.33333343"},
		{"small negative", 0xbecbf647612f3696, "-0.0000033333333333333333"},
		{"fraction", 0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := math.Float64frombits(tt.bits)
			got, err := AppendNumber(nil, f)
			if err != nil || string(got) != tt.want {
				t.Errorf("AppendNumber(%#016x) = %q, %v; want %q", tt.bits, got, err, tt.want)
			}
		})
	}
}

func TestNumberLiterals(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1e21", "1e+21"},
		{"1e-7", "1e-7"},
		{"0.000001", "0.000001"},
		{"-0", "0"},
		{"-0.0e5", "0"},
		{"9007199254740991", "9007199254740991"},
		{"5e-324", "5e-324"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"333333333.3333333", "333333333.3333333"},
		{"1.0", "1"},
		{"1e2", "100"},
		{"100E0", "100"},
		{"123456789012345678901", "123456789012345680000"},
		{"1.5e-7", "1.5e-7"},
		{"0.1", "0.1"},
		{"-1.25e+30", "-1.25e+30"},
		{"1e-400", "0"},
	}
	for _, tt := range tests {
		got, err := Canonicalize([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("Canonicalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"duplicate key", `{"a":1,"a":2}`, ErrDuplicateKey},
		{"duplicate after unescape", `{"a":1,"\u0061":2}`, ErrDuplicateKey},
		{"nested duplicate", `[{"x":{"k":1,"k":1}}]`, ErrDuplicateKey},
		{"invalid utf8", "\"\xff\"", ErrInvalidUTF8},
		{"invalid utf8 key", "{\"\xc3\x28\":1}", ErrInvalidUTF8},
		{"utf8 encoded surrogate", "\"\xed\xa0\x80\"", ErrInvalidUTF8},
		{"lone high surrogate", `"\ud83d"`, ErrLoneSurrogate},
		{"lone high then text", `"\ud83dx"`, ErrLoneSurrogate},
		{"lone low surrogate", `"\ude00"`, ErrLoneSurrogate},
		{"high high", `"\ud83d\ud83d"`, ErrLoneSurrogate},
		{"overflow", `1e400`, ErrNonFinite},
		{"negative overflow", `[-1e309]`, ErrNonFinite},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ErrTooDeep},
		{"NaN literal", `NaN`, ErrSyntax},
		{"leading zero", `01`, ErrSyntax},
		{"plus sign", `+1`, ErrSyntax},
		{"bare dot", `1.`, ErrSyntax},
		{"trailing comma", `[1,]`, ErrSyntax},
		{"trailing data", `{} {}`, ErrSyntax},
		{"control char", "\"a\nb\"", ErrSyntax},
		{"bad escape", `"\x41"`, ErrSyntax},
		{"short unicode escape", `"\u12"`, ErrSyntax},
		{"single quotes", `{'a':1}`, ErrSyntax},
		{"empty", ``, ErrSyntax},
		{"byte order mark", "\ufeff{}", ErrSyntax},
		{"unterminated", `{"a":"b`, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Canonicalize(%q) = %q, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDepthLimitAccepted(t *testing.T) {
	in := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Canonicalize([]byte(in)); err != nil {
		t.Errorf("Canonicalize(depth %d) = %v; want nil", MaxDepth, err)
	}
}

func TestMarshal(t *testing.T) {
	type point struct {
		Y int    `json:"y"`
		X string `json:"x"`
	}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"json.Number forms", map[string]any{"a": json.Number("1.0"), "b": json.Number("1e2")}, `{"a":1,"b":100}`},
		{"go numbers", []any{int64(-3), uint8(7), float32(0.5), 1e21}, `[-3,7,0.5,1e+21]`},
		{"typed containers", map[string]any{"s": []string{"x"}, "m": map[string]string{"k": "v"}}, `{"m":{"k":"v"},"s":["x"]}`},
		{"struct via encoding/json", point{Y: 2, X: "<&>"}, `{"x":"<&>","y":2}`},
		{"raw message", json.RawMessage(`{"b": 1, "a": [true]}`), `{"a":[true],"b":1}`},
		{"nil", nil, `null`},
		{"nil containers as encoding/json", map[string]any{"m": map[string]any(nil), "a": []any(nil), "e": map[string]any{}}, `{"a":null,"e":{},"m":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.in)
			if err != nil || string(got) != tt.want {
				t.Errorf("Marshal(%v) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	deep := any("x")
	for range MaxDepth + 1 {
		deep = []any{deep}
	}
	tests := []struct {
		name string
		in   any
		want error
	}{
		{"NaN", math.NaN(), ErrNonFinite},
		{"infinity", map[string]any{"x": math.Inf(1)}, ErrNonFinite},
		{"bad json.Number", json.Number("1e"), ErrSyntax},
		{"overflowing json.Number", json.Number("1e999"), ErrNonFinite},
		{"invalid utf8 string", "\xff", ErrInvalidUTF8},
		{"invalid utf8 key", map[string]any{"\xff": 1}, ErrInvalidUTF8},
		{"too deep", deep, ErrTooDeep},
		{"channel", make(chan int), ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Marshal(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("Marshal(%s) = %q, %v; want %v", tt.name, got, err, tt.want)
			}
		})
	}
}

// TestStability: the same value spelt differently canonicalizes identically.
func TestStability(t *testing.T) {
	variants := []string{
		`{"b":[1,100,0.5],"a":{"y":"é","x":true}}`,
		`{ "a" : { "x" : true , "y" : "\u00e9" } , "b" : [ 1.0 , 1e2 , 5E-1 ] }`,
		"{\"b\":[1.00,100.0,0.50],\"a\":{\"x\":true,\"y\":\"\u00e9\"}}",
	}
	want, err := Canonicalize([]byte(variants[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants[1:] {
		got, err := Canonicalize([]byte(v))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Canonicalize(%q) = %s, %v; want %s", v, got, err, want)
		}
	}
}

func TestCompareUTF16(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"a", "b", -1},
		{"", "a", -1},
		{"ab", "a", 1},
		{"\U0001F600", "\uFB33", -1}, // surrogate D83D < FB33
		{"\uFB33", "\U0001F600", 1},
		{"\u20AC", "\U0001F600", -1},
		{"\U0001F600", "\U0001F601", -1},
		{"x", "x", 0},
	}
	for _, tt := range tests {
		if got := compareUTF16(tt.a, tt.b); got != tt.want {
			t.Errorf("compareUTF16(%q, %q) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzCanonicalize: a canonical form is a fixed point and decodes to the
// same value as its input.
func FuzzCanonicalize(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/input/*.json")
	for _, in := range inputs {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{`1e21`, `-0`, `{"a":1,"a":2}`, `"\ud83d"`, `[1.5e-7,"\u0001"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		if err != nil {
			return
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Canonicalize(%q) = %q, %v; want fixed point %q", out, again, err, out)
		}
		var vin, vout any
		if err := json.Unmarshal(in, &vin); err != nil {
			t.Fatalf("json.Unmarshal(%q) = %v after Canonicalize accepted it", in, err)
		}
		if err := json.Unmarshal(out, &vout); err != nil || !reflect.DeepEqual(vin, vout) {
			t.Fatalf("Canonicalize(%q) = %q decodes to %v, %v; want %v", in, out, vout, err, vin)
		}
	})
}

func BenchmarkCanonicalize(b *testing.B) {
	src, err := os.ReadFile("testdata/input/rfc-values.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if out, err := Canonicalize(src); err != nil || len(out) == 0 {
			b.Fatalf("Canonicalize = %q, %v", out, err)
		}
	}
}
