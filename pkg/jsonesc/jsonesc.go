// Package jsonesc writes the JSON escape of one ASCII byte and a double:
// the pieces the project's hand-written JSON encoders (the decision-log line, the ext_proc
// handoff, RFC 8785 canonical JSON) share. They differ in which bytes they
// escape (protojson leaves <, > and & alone, encoding/json does not), never
// in how a byte is escaped.
package jsonesc

import (
	"math"
	"strconv"
)

const hexDigits = "0123456789abcdef"

// AppendByte appends the escape of c: the two-character form for '"', '\\'
// and the five control characters JSON names, else \u00xx in lower-case hex,
// the form encoding/json, protojson and ECMAScript's JSON.stringify write.
func AppendByte(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}

// Hex is the lower-case hex digit of n (0-15), for encoders that write
// other \u escapes (U+2028, U+2029) themselves.
func Hex(n byte) byte { return hexDigits[n&0xF] }

// AppendFloat writes a finite double as encoding/json and protojson do:
// the shortest form that reads back exactly, exponent form below 1e-6 and
// from 1e21, "e-07" shortened to "e-7". The caller refuses NaN and
// infinities (neither encoder writes them).
func AppendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b
}
