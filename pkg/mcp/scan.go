package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// parser is a strict single-pass JSON reader over one body. Syntax errors
// (CodeParseError) and excessive depth stop it at once; the first semantic
// violation (a duplicate member, say) is recorded in bad and reading goes on,
// so that a body that is also malformed still gets CodeParseError.
type parser struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	// numbers counts the number literals read, bounded by maxNumbers.
	numbers, maxNumbers int
	// arena holds unescaped member names (and, briefly, unescaped strings).
	arena []byte
	// keys are the member names of the objects being read, innermost last.
	keys []keyRef
	// fold is scratch space for folded names of large objects.
	fold []byte
	// bad is the first semantic violation seen.
	bad *Error
	// str is a copy of data, made at the first string Parse returns; the
	// strings and numbers built are slices of it, one allocation for all.
	// ParseString sets it to the body it was given.
	str string
	// copied holds ParseString's copy of its body's bytes (data then
	// points into it); nothing Parse returns refers to it.
	copied []byte
	// member is the name of the member whose value is being read.
	member keyRef
}

// keyRef locates an unescaped member name in data or in arena. Offsets, not
// slices, because arena may move as it grows.
type keyRef struct {
	inArena  bool
	off, end int
}

// smallObject is the member count up to which duplicates are found by
// pairwise comparison; larger objects get a map of folded names.
const smallObject = 32

var parserPool = sync.Pool{New: func() any { return new(parser) }}

func getParser(data []byte, maxDepth int) *parser {
	p := parserPool.Get().(*parser)
	p.data, p.pos, p.depth, p.maxDepth, p.bad, p.str = data, 0, 0, maxDepth, nil, ""
	p.numbers, p.maxNumbers = 0, DefaultMaxNumbers
	p.arena, p.keys = p.arena[:0], p.keys[:0]
	return p
}

func (p *parser) release() {
	p.data, p.bad, p.str = nil, nil, ""
	if cap(p.arena) > 64<<10 || cap(p.keys) > 4096 || cap(p.fold) > 4096 {
		p.arena, p.keys, p.fold = nil, nil, nil
	}
	if cap(p.copied) > 64<<10 {
		p.copied = nil
	}
	parserPool.Put(p)
}

// syntax returns the CodeParseError for what is wrong at the current offset.
func (p *parser) syntax(what string) error {
	return &Error{Code: CodeParseError, Msg: msgParse, Cause: fmt.Errorf("offset %d: %s", p.pos, what)}
}

// violate records a semantic violation unless one is already recorded.
func (p *parser) violate(code int, msg, what string) {
	if p.bad == nil {
		p.bad = &Error{Code: code, Msg: msg, Cause: fmt.Errorf("offset %d: %s", p.pos, what)}
	}
}

// skipWS skips JSON whitespace and returns the next byte (0 at the end).
func (p *parser) skipWS() byte {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; c {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return c
		}
	}
	return 0
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > p.maxDepth {
		return &Error{Code: CodeInvalidRequest, Msg: msgTooDeep,
			Cause: fmt.Errorf("offset %d: nesting deeper than %d", p.pos, p.maxDepth)}
	}
	return nil
}

// valueStart skips whitespace before a value and fails at the end of input.
func (p *parser) valueStart() error {
	if p.skipWS(); p.pos >= len(p.data) {
		return p.syntax("unexpected end of input, want a value")
	}
	return nil
}

// skipValue validates the value at p.pos without building it.
func (p *parser) skipValue() error {
	if p.pos >= len(p.data) {
		return p.syntax("unexpected end of input, want a value")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.object(nil, nil)
	case '[':
		return p.array(p.skipValue)
	case '"':
		_, _, _, err := p.scanString()
		return err
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	default:
		_, err := p.scanNumber()
		return err
	}
}

// buildValue reads the value at p.pos into map[string]any, []any, string,
// json.Number, bool or nil, as encoding/json with UseNumber would.
func (p *parser) buildValue() (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.syntax("unexpected end of input, want a value")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.buildObject()
	case '[':
		arr := []any{}
		err := p.array(func() error {
			v, err := p.buildValue()
			arr = append(arr, v)
			return err
		})
		return arr, err
	case '"':
		return p.stringValue()
	case 't':
		return true, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return nil, p.literal("null")
	default:
		start, err := p.scanNumber()
		return json.Number(p.substr(start, p.pos)), err
	}
}

// substr returns data[start:end] as a string sharing one copy of data.
func (p *parser) substr(start, end int) string {
	if p.str == "" {
		p.str = string(p.data)
	}
	return p.str[start:end]
}

// buildObject reads the object at p.pos into a map.
func (p *parser) buildObject() (map[string]any, error) {
	m := make(map[string]any)
	err := p.object(nil, func(key []byte) error {
		k := p.substr(p.member.off, p.member.end)
		if p.member.inArena {
			k = string(key)
		}
		v, err := p.buildValue()
		m[k] = v
		return err
	})
	return m, err
}

// memberFunc consumes the value of the member named key; p is at the value's
// first byte. key is valid only until the value is read.
type memberFunc func(key []byte) error

// object reads the object at p.pos, checking every member name (see
// checkName) against its siblings and, when known is non-nil, against the
// protocol's member names at this position. fn (or skipValue, when fn is nil)
// consumes each value.
func (p *parser) object(known [][]byte, fn memberFunc) error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++
	base := len(p.keys)
	var index map[string]struct{}
	if p.skipWS() == '}' {
		return p.closeObject(base)
	}
	for {
		ref, err := p.memberName()
		if err != nil {
			return err
		}
		key := p.keyBytes(ref)
		index = p.checkName(key, base, known, index)
		p.keys = append(p.keys, ref)
		p.member = ref
		if err := p.colon(); err != nil {
			return err
		}
		if fn == nil {
			err = p.skipValue()
		} else {
			err = fn(key)
		}
		if err != nil {
			return err
		}
		switch p.skipWS() {
		case ',':
			p.pos++
		case '}':
			return p.closeObject(base)
		default:
			return p.syntax("want , or } after an object member")
		}
	}
}

func (p *parser) closeObject(base int) error {
	p.pos++
	p.keys = p.keys[:base]
	p.depth--
	return nil
}

// memberName reads a member name, unescaping it into the arena if needed.
func (p *parser) memberName() (keyRef, error) {
	if p.skipWS() != '"' {
		return keyRef{}, p.syntax("want a member name")
	}
	start, end, esc, err := p.scanString()
	if err != nil || !esc {
		return keyRef{off: start, end: end}, err
	}
	off := len(p.arena)
	p.arena = appendUnescaped(p.arena, p.data[start:end])
	return keyRef{inArena: true, off: off, end: len(p.arena)}, nil
}

func (p *parser) keyBytes(r keyRef) []byte {
	if r.inArena {
		return p.arena[r.off:r.end]
	}
	return p.data[r.off:r.end]
}

// colon reads the ':' after a member name and the whitespace after it.
func (p *parser) colon() error {
	if p.skipWS() != ':' {
		return p.syntax("want : after a member name")
	}
	p.pos++
	return p.valueStart()
}

// array reads the array at p.pos; elem consumes one element.
func (p *parser) array(elem func() error) error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++
	if p.skipWS() == ']' {
		p.pos++
		p.depth--
		return nil
	}
	for {
		if err := p.valueStart(); err != nil {
			return err
		}
		if err := elem(); err != nil {
			return err
		}
		switch p.skipWS() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return nil
		default:
			return p.syntax("want , or ] after an array element")
		}
	}
}

func (p *parser) literal(word string) error {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return p.syntax("invalid literal")
	}
	p.pos += len(word)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits returns the offset after the run of digits starting at i.
func digits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

// scanNumber reads a number with the strict JSON grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and returns its start.
func (p *parser) scanNumber() (int, error) {
	data, start := p.data, p.pos
	i := start
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && isDigit(data[i]):
		i = digits(data, i)
	default:
		p.pos = i
		return start, p.syntax("invalid character, want a value")
	}
	if i < len(data) && data[i] == '.' {
		if i++; i >= len(data) || !isDigit(data[i]) {
			p.pos = i
			return start, p.syntax("want a digit after the decimal point")
		}
		i = digits(data, i)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			p.pos = i
			return start, p.syntax("want a digit in the exponent")
		}
		i = digits(data, i)
	}
	p.pos = i
	p.checkNumber(data[start:i])
	return start, nil
}

// Bounds on a number literal. Validating an argument against a JSON
// Schema turns each number into an exact rational, so 1e999999 costs
// seconds (and can crash the validator); no SDK can represent such a
// number anyway (JavaScript reads it as Infinity or 0).
const (
	// MaxNumberBytes is the longest number literal accepted.
	MaxNumberBytes = 64
	// MaxExponent bounds the decimal exponent, beyond float64's range.
	MaxExponent = 400
)

// checkNumber records a violation for a number literal out of bounds, or
// one too many.
func (p *parser) checkNumber(lit []byte) {
	if p.numbers++; p.numbers > p.maxNumbers {
		p.violate(CodeInvalidRequest, msgNumber, fmt.Sprintf("more than %d numbers", p.maxNumbers))
		return
	}
	if len(lit) > MaxNumberBytes {
		p.violate(CodeInvalidRequest, msgNumber, fmt.Sprintf("number literal of %d bytes", len(lit)))
		return
	}
	e := bytes.IndexAny(lit, "eE")
	if e < 0 {
		return
	}
	exp := 0
	for _, c := range lit[e+1:] {
		if isDigit(c) {
			if exp = exp*10 + int(c-'0'); exp > MaxExponent {
				p.violate(CodeInvalidRequest, msgNumber, "number exponent out of range")
				return
			}
		}
	}
}

// stringValue reads the string at p.pos into a Go string.
func (p *parser) stringValue() (string, error) {
	start, end, esc, err := p.scanString()
	if err != nil || !esc {
		return p.substr(start, end), err
	}
	off := len(p.arena)
	p.arena = appendUnescaped(p.arena, p.data[start:end])
	v := string(p.arena[off:])
	p.arena = p.arena[:off]
	return v, nil
}

// stringBytes reads the string at p.pos and returns its unescaped bytes,
// valid until the next read.
func (p *parser) stringBytes() ([]byte, error) {
	start, end, esc, err := p.scanString()
	if err != nil || !esc {
		return p.data[start:end], err
	}
	off := len(p.arena)
	p.arena = appendUnescaped(p.arena, p.data[start:end])
	b := p.arena[off:]
	p.arena = p.arena[:off]
	return b, nil
}

// kindOf classifies a value by its first byte: 's' string, 'o' object,
// 'a' array, 'n' number, 'b' boolean, 'z' null.
func kindOf(c byte) byte {
	switch c {
	case '"':
		return 's'
	case '{':
		return 'o'
	case '[':
		return 'a'
	case 't', 'f':
		return 'b'
	case 'n':
		return 'z'
	default:
		return 'n'
	}
}

// checkName records a violation when key is "__proto__", differs only in
// case from a protocol member name in known, or equals (byte-exact or under
// case folding) an earlier member name of the same object. It returns the
// folded-name index of a large object.
func (p *parser) checkName(key []byte, base int, known [][]byte, index map[string]struct{}) map[string]struct{} {
	if p.bad != nil {
		return index
	}
	if string(key) == "__proto__" {
		p.violate(CodeInvalidRequest, msgProto, "member __proto__")
		return index
	}
	for _, k := range known {
		if !bytes.Equal(key, k) && foldEqual(key, k) {
			p.violate(CodeInvalidRequest, msgFoldKnown, fmt.Sprintf("member %q folds to %q", key, k))
			return index
		}
	}
	siblings := p.keys[base:]
	if index == nil && len(siblings) < smallObject {
		for _, ref := range siblings {
			if prev := p.keyBytes(ref); foldEqual(prev, key) {
				p.duplicate(prev, key)
				return index
			}
		}
		return index
	}
	return p.checkLarge(key, siblings, index)
}

// checkLarge is checkName's duplicate test for objects with many members.
func (p *parser) checkLarge(key []byte, siblings []keyRef, index map[string]struct{}) map[string]struct{} {
	if index == nil {
		index = make(map[string]struct{}, 2*len(siblings))
		for _, ref := range siblings {
			p.fold = appendFold(p.fold[:0], p.keyBytes(ref))
			index[string(p.fold)] = struct{}{}
		}
	}
	p.fold = appendFold(p.fold[:0], key)
	if _, dup := index[string(p.fold)]; !dup {
		index[string(p.fold)] = struct{}{}
		return index
	}
	for _, ref := range siblings {
		if prev := p.keyBytes(ref); foldEqual(prev, key) {
			p.duplicate(prev, key)
			break
		}
	}
	return index
}

func (p *parser) duplicate(prev, key []byte) {
	if bytes.Equal(prev, key) {
		p.violate(CodeInvalidRequest, msgDuplicate, fmt.Sprintf("member %q repeated", key))
		return
	}
	p.violate(CodeInvalidRequest, msgFoldDuplicate, fmt.Sprintf("members %q and %q fold to the same name", prev, key))
}

// scanString reads the string at p.pos (its opening quote), validating
// escapes, surrogate pairs and UTF-8, and returns the span of its raw
// content and whether that contains escapes.
func (p *parser) scanString() (start, end int, esc bool, err error) {
	data := p.data
	start = p.pos + 1
	for i := start; i < len(data); {
		c := data[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		switch {
		case c == '"':
			p.pos = i + 1
			return start, i, esc, nil
		case c == '\\':
			esc = true
			n, err := p.escapeLen(i)
			if err != nil {
				return start, i, esc, err
			}
			i += n
		case c < 0x20:
			p.pos = i
			return start, i, esc, p.syntax("control character in a string")
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				p.pos = i
				return start, i, esc, p.syntax("invalid UTF-8")
			}
			i += n
		}
	}
	p.pos = len(data)
	return start, len(data), esc, p.syntax("unterminated string")
}

// escapeLen validates the escape sequence at data[i] (a backslash) and
// returns its length; a \u escape of a high surrogate must be followed by a
// \u escape of a low surrogate, and a low surrogate must not stand alone.
func (p *parser) escapeLen(i int) (int, error) {
	data := p.data
	if i+1 >= len(data) {
		p.pos = i
		return 0, p.syntax("unterminated escape")
	}
	switch data[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		p.pos = i
		return 0, p.syntax("invalid escape")
	}
	r, ok := hex4(data[i+2:])
	switch {
	case !ok:
		p.pos = i
		return 0, p.syntax("invalid \\u escape")
	case r >= 0xDC00 && r <= 0xDFFF:
		p.pos = i
		return 0, p.syntax("lone low surrogate")
	case r < 0xD800 || r > 0xDBFF:
		return 6, nil
	}
	if len(data) < i+12 || data[i+6] != '\\' || data[i+7] != 'u' {
		p.pos = i
		return 0, p.syntax("lone high surrogate")
	}
	if r2, ok := hex4(data[i+8:]); !ok || r2 < 0xDC00 || r2 > 0xDFFF {
		p.pos = i
		return 0, p.syntax("lone high surrogate")
	}
	return 12, nil
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the unescaped form of raw, a string content that
// scanString has validated, to dst.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		if raw[i+1] == 'u' {
			r, _ := hex4(raw[i+2:])
			n := 6
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(raw[i+8:])
				r, n = utf16.DecodeRune(r, r2), 12
			}
			dst = utf8.AppendRune(dst, r)
			i += n
			continue
		}
		dst = append(dst, unescapeByte(raw[i+1]))
		i += 2
	}
	return dst
}

// unescapeByte maps the letter of a one-character escape to its byte.
func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	default: // '"', '\\', '/'
		return c
	}
}
