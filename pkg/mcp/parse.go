package mcp

import (
	"bytes"
	"fmt"
)

// Default limits, used when a Limits field is zero or negative.
const (
	DefaultMaxBytes   = 1 << 20
	DefaultMaxDepth   = 64
	DefaultMaxNumbers = 10000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxNumbers <= 0 {
		l.MaxNumbers = DefaultMaxNumbers
	}
	return l
}

// Parse parses one POST body: exactly one JSON-RPC 2.0 message (a request, a
// notification or a response) in strict JSON. It fails with an *Error:
//
//   - CodeParseError (id null) when the body is not one JSON text in UTF-8:
//     bad syntax, invalid UTF-8, a lone surrogate escape, trailing data.
//   - CodeInvalidRequest when the JSON is not one acceptable message: a
//     batch or any non-object top level; a member name repeated, or equal to
//     a sibling under Unicode simple case folding, in any object; a member
//     name that differs only in case from a protocol member at the top
//     level, in params, params._meta or error; a member named __proto__; an
//     unknown top-level member; a wrong jsonrpc, id, method, result or error
//     (an id is a string or an integer within ±(2^63-1): 1.5, 1.0, 1e3, 1e400
//     and 2^63 are refused with id null);
//     params that are not a structured value; nesting deeper than
//     lim.MaxDepth (reading stops there, so the id is null); a body larger
//     than lim.MaxBytes (Cause wraps ErrTooLarge); a number literal over
//     MaxNumberBytes or with an exponent beyond MaxExponent, or more than
//     lim.MaxNumbers numbers.
//   - CodeInvalidParams when params are an array, or the params of
//     tools/call, prompts/get, resources/read, resources/(un)subscribe or
//     initialize lack their required string member, or arguments or _meta
//     are not objects.
//
// Syntax errors take precedence over the other codes. For the other codes
// Error.ID holds the message's id when it was a valid one. Zero Limits
// fields take the Default values.
func Parse(body []byte, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	if len(body) > lim.MaxBytes {
		return nil, tooLarge(len(body), lim)
	}
	p := getParser(body, lim.MaxDepth)
	defer p.release()
	return parse(p, lim)
}

// ParseString is Parse of a body held as a string (Envoy's body field,
// where raw_body is not used). The strings of the Message are slices of
// body itself, and the parser reads a pooled copy of its bytes, so no copy
// of the body is allocated per call. It returns exactly what
// Parse([]byte(body), lim) returns.
func ParseString(body string, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	if len(body) > lim.MaxBytes {
		return nil, tooLarge(len(body), lim)
	}
	p := getParser(nil, lim.MaxDepth)
	p.copied = append(p.copied[:0], body...)
	p.data, p.str = p.copied, body
	defer p.release()
	return parse(p, lim)
}

func tooLarge(n int, lim Limits) error {
	return &Error{Code: CodeInvalidRequest, Msg: msgTooLarge,
		Cause: fmt.Errorf("%d bytes, limit %d: %w", n, lim.MaxBytes, ErrTooLarge)}
}

// parse reads the message in p.data.
func parse(p *parser, lim Limits) (*Message, error) {
	p.maxNumbers = lim.MaxNumbers
	r := reading{p: p}
	if err := r.document(); err != nil {
		return nil, err
	}
	if p.bad != nil {
		p.bad.ID = r.validID()
		return nil, p.bad
	}
	return r.message()
}

// reading collects what Parse saw of the message while the parser reads it.
// Kinds are kindOf codes; 0 means absent.
type reading struct {
	p *parser

	jsonrpcKind byte
	jsonrpcOK   bool
	unknown     bool
	// idStart and idEnd span the raw id; idAmbiguous is set when the id
	// member is repeated or has case-folded look-alikes.
	idKind, methodKind, paramsKind, resultKind, errorKind byte
	idStart, idEnd                                        int
	idAmbiguous                                           bool
	method                                                string
	// errCode and errMessage: error has an integer code, a string message.
	errCode, errMessage bool

	params params
}

// params collects the members of params that Parse interprets.
type params struct {
	nameKind, uriKind, argsKind, metaKind, metaVersionKind, versionKind byte
	name, uri, metaVersion, version                                     string
	args                                                                map[string]any
}

// document reads the whole body: one value, then only whitespace.
func (r *reading) document() error {
	p := r.p
	top := p.skipWS()
	if err := p.valueStart(); err != nil {
		return err
	}
	var err error
	if top == '{' {
		err = p.object(topMembers, r.topMember)
	} else {
		err = p.skipValue()
	}
	if err != nil {
		return err
	}
	if p.skipWS(); p.pos < len(p.data) {
		return p.syntax("data after the JSON value")
	}
	switch top {
	case '{':
		return nil
	case '[':
		return &Error{Code: CodeInvalidRequest, Msg: msgBatch, Cause: fmt.Errorf("top-level array")}
	default:
		return &Error{Code: CodeInvalidRequest, Msg: msgNotObject, Cause: fmt.Errorf("top-level %q value", kindOf(top))}
	}
}

// topMember consumes one member of the message object.
func (r *reading) topMember(key []byte) error {
	p := r.p
	c := p.data[p.pos]
	switch string(key) {
	case "jsonrpc":
		r.jsonrpcKind = kindOf(c)
		if c == '"' {
			b, err := p.stringBytes()
			r.jsonrpcOK = string(b) == "2.0"
			return err
		}
	case "id":
		r.idAmbiguous = r.idAmbiguous || r.idKind != 0
		r.idKind, r.idStart = kindOf(c), p.pos
		err := p.skipValue()
		r.idEnd = p.pos
		if r.idKind == 'n' && !integerID(p.data[r.idStart:r.idEnd]) {
			r.idKind = kindNonIntegerID
		}
		return err
	case "method":
		r.methodKind = kindOf(c)
		if c == '"' {
			b, err := p.stringBytes()
			r.method = intern(b)
			return err
		}
	case "params":
		r.paramsKind = kindOf(c)
		if c == '{' {
			return p.object(paramMembers, r.paramMember)
		}
	case "result":
		r.resultKind = kindOf(c)
	case "error":
		r.errorKind = kindOf(c)
		if c == '{' {
			return p.object(errorMembers, r.errorMember)
		}
	default:
		r.unknown = true
		r.idAmbiguous = r.idAmbiguous || foldEqual(key, topMembers[1])
	}
	return p.skipValue()
}

// paramMember consumes one member of params.
func (r *reading) paramMember(key []byte) (err error) {
	p, q := r.p, &r.params
	c := p.data[p.pos]
	switch string(key) {
	case "name":
		if q.nameKind = kindOf(c); c == '"' {
			q.name, err = p.stringValue()
			return err
		}
	case "uri":
		if q.uriKind = kindOf(c); c == '"' {
			q.uri, err = p.stringValue()
			return err
		}
	case "arguments":
		if q.argsKind = kindOf(c); c == '{' {
			q.args, err = p.buildObject()
			return err
		}
	case "protocolVersion":
		if q.versionKind = kindOf(c); c == '"' {
			b, err := p.stringBytes()
			q.version = intern(b)
			return err
		}
	case "_meta":
		if q.metaKind = kindOf(c); c == '{' {
			return p.object(metaMembers, r.metaMember)
		}
	}
	return p.skipValue()
}

// metaMember consumes one member of params._meta.
func (r *reading) metaMember(key []byte) error {
	p, q := r.p, &r.params
	if c := p.data[p.pos]; string(key) == metaProtocolVersion {
		if q.metaVersionKind = kindOf(c); c == '"' {
			b, err := p.stringBytes()
			q.metaVersion = intern(b)
			return err
		}
	}
	return p.skipValue()
}

// errorMember consumes one member of a response's error object.
func (r *reading) errorMember(key []byte) error {
	p := r.p
	start := p.pos
	c := p.data[start]
	err := p.skipValue()
	switch string(key) {
	case "code":
		r.errCode = kindOf(c) == 'n' && !bytes.ContainsAny(p.data[start:p.pos], ".eE")
	case "message":
		r.errMessage = c == '"'
	}
	return err
}

// kindNonIntegerID is the id kind of a number that is not an integer within
// ±(2^63-1): invalid, like a boolean id.
const kindNonIntegerID = 'x'

// maxIDDigits is 2^63-1, the largest id magnitude: both SDKs' RequestId is
// a string or an integer, and a server decoding the id into an int64 (or a
// float64) would otherwise answer with another id than we judged.
const maxIDDigits = "9223372036854775807"

// integerID reports whether the number literal b (valid JSON) is an
// integer within ±(2^63-1): no fraction, no exponent (1e3, 1.0 and 1e400
// are refused, whatever value they denote).
func integerID(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > len(maxIDDigits) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) < len(maxIDDigits) || string(b) <= maxIDDigits
}

// validID returns a copy of the raw id when it is one unambiguous string or
// number, else nil.
func (r *reading) validID() []byte {
	if r.idAmbiguous || (r.idKind != 's' && r.idKind != 'n') {
		return nil
	}
	return bytes.Clone(r.p.data[r.idStart:r.idEnd])
}
