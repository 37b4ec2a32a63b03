package jcs

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/mcp-authz/mcp-authz/pkg/jsonesc"
)

// encoder appends the canonical form of generic values to buf.
type encoder struct {
	buf   []byte
	depth int
}

func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case string:
		return e.str(x)
	case map[string]any:
		if x == nil { // as encoding/json: a nil map is null
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.object(x)
	case []any:
		if x == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.array(len(x), func(i int) any { return x[i] })
	case json.RawMessage:
		return e.raw(x)
	default:
		return e.other(v)
	}
	return nil
}

// other handles numbers, typed containers and, last, encoding/json.
func (e *encoder) other(v any) error {
	if f, ok, err := toFloat(v); ok {
		if err != nil {
			return err
		}
		return e.number(f)
	}
	switch x := v.(type) {
	case map[string]string:
		if x == nil {
			return e.value(nil)
		}
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return e.object(m)
	case []string:
		if x == nil {
			return e.value(nil)
		}
		return e.array(len(x), func(i int) any { return x[i] })
	case []map[string]any:
		if x == nil {
			return e.value(nil)
		}
		return e.array(len(x), func(i int) any { return x[i] })
	}
	g, err := viaEncodingJSON(v)
	if err != nil {
		return err
	}
	return e.value(g)
}

// toFloat converts the Go number kinds (and json.Number) to a double.
func toFloat(v any) (f float64, ok bool, err error) {
	switch x := v.(type) {
	case float64:
		return x, true, nil
	case float32:
		return float64(x), true, nil
	case int:
		return float64(x), true, nil
	case int8:
		return float64(x), true, nil
	case int16:
		return float64(x), true, nil
	case int32:
		return float64(x), true, nil
	case int64:
		return float64(x), true, nil
	case uint:
		return float64(x), true, nil
	case uint8:
		return float64(x), true, nil
	case uint16:
		return float64(x), true, nil
	case uint32:
		return float64(x), true, nil
	case uint64:
		return float64(x), true, nil
	case json.Number:
		g, err := parse([]byte(x))
		if f, isNum := g.(float64); err == nil && isNum {
			return f, true, nil
		}
		if err == nil {
			err = fmt.Errorf("jcs: %w: json.Number %q", ErrSyntax, string(x))
		}
		return 0, true, err
	}
	return 0, false, nil
}

func (e *encoder) raw(b json.RawMessage) error {
	v, err := parse(b)
	if err != nil {
		return err
	}
	return e.value(v)
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > MaxDepth {
		return fmt.Errorf("jcs: %w: limit %d", ErrTooDeep, MaxDepth)
	}
	return nil
}

func (e *encoder) object(m map[string]any) error {
	if err := e.enter(); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !utf8.ValidString(k) {
			return fmt.Errorf("jcs: %w: member name %q", ErrInvalidUTF8, k)
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareUTF16)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.str(k); err != nil {
			return err
		}
		e.buf = append(e.buf, ':')
		if err := e.value(m[k]); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	e.depth--
	return nil
}

func (e *encoder) array(n int, at func(int) any) error {
	if err := e.enter(); err != nil {
		return err
	}
	e.buf = append(e.buf, '[')
	for i := range n {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(at(i)); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	e.depth--
	return nil
}

// compareUTF16 orders strings by their UTF-16 code units (RFC 8785 §3.2.3).
// Runes compare by value except that a BMP character at or above U+E000
// sorts after every supplementary-plane character, whose first UTF-16 unit
// is a surrogate (U+D800..U+DBFF).
func compareUTF16(a, b string) int {
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			if ua, ub := firstUnit(ra), firstUnit(rb); ua != ub {
				return cmp.Compare(ua, ub)
			}
			return cmp.Compare(ra, rb)
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// firstUnit is the first UTF-16 code unit of r.
func firstUnit(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}

// str writes s with the RFC 8785 escapes: \" \\ \b \f \n \r \t, \u00xx
// (lower-case hex) for the other control characters, everything else as is.
func (e *encoder) str(s string) error {
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return fmt.Errorf("jcs: %w: in string at byte %d", ErrInvalidUTF8, i)
			}
			e.buf = append(e.buf, s[i:i+size]...)
			i += size
			continue
		}
		e.buf = appendASCII(e.buf, c)
		i++
	}
	e.buf = append(e.buf, '"')
	return nil
}

func appendASCII(b []byte, c byte) []byte {
	if c == '"' || c == '\\' || c < 0x20 {
		return jsonesc.AppendByte(b, c)
	}
	return append(b, c)
}

func (e *encoder) number(f float64) error {
	b, err := AppendNumber(e.buf, f)
	if err != nil {
		return err
	}
	e.buf = b
	return nil
}

// AppendNumber appends f in the ECMAScript Number.prototype.toString form
// RFC 8785 §3.2.2.3 requires: the shortest digits that round-trip, integers
// below 1e21 without exponent, "e+"/"e-" exponents otherwise; -0 is "0".
// NaN and the infinities are an error (ErrNonFinite).
func AppendNumber(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("jcs: %w: %v", ErrNonFinite, f)
	}
	if f == 0 {
		return append(b, '0'), nil
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // d[.ddd]e±XX
	ePos := bytes.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(string(s[ePos+1:]))
	var digits [24]byte
	d := append(digits[:0], s[0])
	if ePos > 1 {
		d = append(d, s[2:ePos]...)
	}
	return appendES(b, d, exp+1), nil
}

// appendES lays out the decimal digits d with decimal exponent n, where the
// value is 0.d × 10^n, following ECMAScript Number::toString steps 6 to 10.
func appendES(b, d []byte, n int) []byte {
	k := len(d)
	switch {
	case k <= n && n <= 21:
		b = append(b, d...)
		return append(b, bytes.Repeat([]byte{'0'}, n-k)...)
	case 0 < n && n <= 21:
		b = append(b, d[:n]...)
		b = append(b, '.')
		return append(b, d[n:]...)
	case -6 < n && n <= 0:
		b = append(b, '0', '.')
		b = append(b, bytes.Repeat([]byte{'0'}, -n)...)
		return append(b, d...)
	}
	b = append(b, d[0])
	if k > 1 {
		b = append(b, '.')
		b = append(b, d[1:]...)
	}
	b = append(b, 'e')
	if n-1 >= 0 {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, int64(n-1), 10)
}
