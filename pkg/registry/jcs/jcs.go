// Package jcs implements the JSON Canonicalization Scheme of RFC 8785.
//
// mcp-authz approves an MCP tool by the SHA-256 of its manifest. A hash is
// only useful when every producer (the pin command, the bundle author, the
// drift watcher) serialises the same manifest to the same bytes, whatever key
// order, whitespace or number spelling it arrived with. encoding/json does not
// do that: it escapes <, > and &, sorts keys by bytes and prints floats in Go
// form. This package produces the RFC 8785 form: object members sorted by
// their UTF-16 code units, strings with only the mandatory escapes, numbers in
// the ECMAScript Number.prototype.toString form, no whitespace.
//
// Input is held to I-JSON (RFC 7493): duplicate member names, invalid UTF-8,
// lone surrogate escapes and numbers outside the IEEE 754 double range are
// errors, and nesting is bounded by MaxDepth so a hostile document cannot
// exhaust the stack.
package jcs

import (
	"encoding/json"
	"errors"
	"fmt"
)

// MaxDepth is the deepest nesting of objects and arrays accepted.
const MaxDepth = 128

// Errors returned (wrapped) by Canonicalize and Marshal; test with errors.Is.
var (
	// ErrSyntax reports input that is not RFC 8259 JSON.
	ErrSyntax = errors.New("invalid JSON")
	// ErrDuplicateKey reports an object with the same member name twice.
	ErrDuplicateKey = errors.New("duplicate object member name")
	// ErrInvalidUTF8 reports a string that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrLoneSurrogate reports a \u escape of an unpaired UTF-16 surrogate.
	ErrLoneSurrogate = errors.New("unpaired UTF-16 surrogate")
	// ErrNonFinite reports NaN, an infinity or a number beyond the double range.
	ErrNonFinite = errors.New("number is not a finite IEEE 754 double")
	// ErrTooDeep reports nesting deeper than MaxDepth.
	ErrTooDeep = errors.New("nesting too deep")
	// ErrUnsupported reports a Go value that has no JSON form.
	ErrUnsupported = errors.New("unsupported value")
)

// Canonicalize returns the RFC 8785 canonical form of the JSON text
// jsonBytes. It rejects anything outside I-JSON (see the package comment).
func Canonicalize(jsonBytes []byte) ([]byte, error) {
	v, err := parse(jsonBytes)
	if err != nil {
		return nil, err
	}
	e := encoder{buf: make([]byte, 0, len(jsonBytes))}
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// Marshal returns the RFC 8785 canonical form of v. The generic JSON values
// (nil, bool, string, json.Number, Go numbers, map[string]any, []any and
// their typed variants) are encoded directly; any other value is first
// encoded with encoding/json and then canonicalized.
func Marshal(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 256)}
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// viaEncodingJSON canonicalizes a value encoding/json knows how to encode.
func viaEncodingJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jcs: %w: %T: %w", ErrUnsupported, v, err)
	}
	return parse(b)
}
