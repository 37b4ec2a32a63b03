package jcs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parser is a strict RFC 8259 parser producing generic values: nil, bool,
// string, float64, map[string]any and []any.
type parser struct {
	data  []byte
	pos   int
	depth int
}

// parse decodes exactly one JSON text (surrounding whitespace allowed).
func parse(data []byte) (any, error) {
	p := parser{data: data}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.fail(ErrSyntax, "data after the JSON value")
	}
	return v, nil
}

func (p *parser) fail(err error, msg string) error {
	return fmt.Errorf("jcs: offset %d: %w: %s", p.pos, err, msg)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.fail(ErrSyntax, "unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return p.literal()
	}
}

func (p *parser) literal() (any, error) {
	for _, lit := range [...]struct {
		text string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(p.data)-p.pos >= len(lit.text) && string(p.data[p.pos:p.pos+len(lit.text)]) == lit.text {
			p.pos += len(lit.text)
			return lit.v, nil
		}
	}
	return nil, p.fail(ErrSyntax, "unexpected character")
}

// enter counts one level of nesting.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.fail(ErrTooDeep, "limit "+strconv.Itoa(MaxDepth))
	}
	return nil
}

func (p *parser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '{'
	obj := map[string]any{}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return obj, nil
	}
	for {
		if err := p.member(obj); err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail(ErrSyntax, "unterminated object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case '}':
			p.pos++
			p.depth--
			return obj, nil
		default:
			return nil, p.fail(ErrSyntax, "expected ',' or '}'")
		}
	}
}

// member parses `"name": value` into obj, rejecting a repeated name.
func (p *parser) member(obj map[string]any) error {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return p.fail(ErrSyntax, "expected a member name")
	}
	start := p.pos
	name, err := p.str()
	if err != nil {
		return err
	}
	if _, dup := obj[name]; dup {
		p.pos = start
		return p.fail(ErrDuplicateKey, strconv.QuoteToASCII(name))
	}
	p.skipSpace()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return p.fail(ErrSyntax, "expected ':'")
	}
	p.pos++
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return err
	}
	obj[name] = v
	return nil
}

func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '['
	arr := []any{}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return arr, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail(ErrSyntax, "unterminated array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case ']':
			p.pos++
			p.depth--
			return arr, nil
		default:
			return nil, p.fail(ErrSyntax, "expected ',' or ']'")
		}
	}
}

// number validates the RFC 8259 number grammar and converts to a double.
func (p *parser) number() (any, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.digits() == 0:
		return nil, p.fail(ErrSyntax, "invalid number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return nil, p.fail(ErrSyntax, "invalid number fraction")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, p.fail(ErrSyntax, "invalid number exponent")
		}
	}
	f, err := strconv.ParseFloat(string(p.data[start:p.pos]), 64)
	if err != nil && !(isRangeErr(err) && !math.IsInf(f, 0)) { // underflow to 0 is fine
		p.pos = start
		return nil, p.fail(ErrNonFinite, "number out of range")
	}
	return f, nil
}

func (p *parser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// str parses a string, validating UTF-8 and surrogate pairs.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.data) { // fast path: no escapes, ASCII only
		c := p.data[p.pos]
		if c == '"' {
			s := string(p.data[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.pos++
	}
	buf := append([]byte(nil), p.data[start:p.pos]...)
	return p.strSlow(buf)
}

func (p *parser) strSlow(buf []byte) (string, error) {
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c == '\\':
			var err error
			if buf, err = p.escape(buf); err != nil {
				return "", err
			}
		case c < 0x20:
			return "", p.fail(ErrSyntax, "control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.fail(ErrInvalidUTF8, "in string")
			}
			buf = append(buf, p.data[p.pos:p.pos+size]...)
			p.pos += size
		}
	}
	return "", p.fail(ErrSyntax, "unterminated string")
}

// escape decodes one backslash escape at p.pos and appends it to buf.
func (p *parser) escape(buf []byte) ([]byte, error) {
	if p.pos+1 >= len(p.data) {
		return nil, p.fail(ErrSyntax, "unterminated escape")
	}
	c := p.data[p.pos+1]
	if simple, ok := simpleEscapes[c]; ok {
		p.pos += 2
		return append(buf, simple), nil
	}
	if c != 'u' {
		return nil, p.fail(ErrSyntax, "invalid escape")
	}
	r, err := p.hex4(p.pos + 2)
	if err != nil {
		return nil, err
	}
	p.pos += 6
	if utf16.IsSurrogate(r) {
		if r, err = p.lowSurrogate(r); err != nil {
			return nil, err
		}
	}
	return utf8.AppendRune(buf, r), nil
}

var simpleEscapes = map[byte]byte{
	'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// lowSurrogate completes the pair begun by the high surrogate hi.
func (p *parser) lowSurrogate(hi rune) (rune, error) {
	if hi >= 0xDC00 || p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
		return 0, p.fail(ErrLoneSurrogate, fmt.Sprintf("\\u%04x", hi))
	}
	lo, err := p.hex4(p.pos + 2)
	if err != nil {
		return 0, err
	}
	r := utf16.DecodeRune(hi, lo)
	if r == utf8.RuneError {
		return 0, p.fail(ErrLoneSurrogate, fmt.Sprintf("\\u%04x", hi))
	}
	p.pos += 6
	return r, nil
}

func (p *parser) hex4(at int) (rune, error) {
	if at+4 > len(p.data) {
		return 0, p.fail(ErrSyntax, "short \\u escape")
	}
	var r rune
	for _, c := range p.data[at : at+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, p.fail(ErrSyntax, "invalid \\u escape")
		}
		r = r<<4 | rune(d)
	}
	return r, nil
}

// isRangeErr reports whether err is strconv's out-of-range error.
func isRangeErr(err error) bool { return errors.Is(err, strconv.ErrRange) }
