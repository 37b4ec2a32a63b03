package policy

import (
	"encoding/binary"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The decision cache's key is what each read path denotes in the input
// document OPA evaluates. Building that document (inputValue) for every
// request only to read a few paths of it cost more than a cache hit saves,
// so the key walks the Go Input instead: the tables below describe each
// struct of the input as inputValue builds it (the same member names, the
// same members left out when empty), and the walk writes the very bytes
// appendAt writes over inputValue(in) (a test compares them on every
// corpus and fuzzed input). Equal keys therefore mean equal projections,
// and the hit rate is the projection's.

// docField is one member of a struct of the input document.
type docField[T any] struct {
	name string
	// has reports whether inputValue writes the member (nil: always).
	has func(*T) bool
	// enc appends the member's value as appendCanonical would.
	enc func([]byte, *T) ([]byte, bool)
	// at walks on into a member that can be an object (nil: it is not).
	at func([]byte, *T, ast.Ref, int) ([]byte, bool)
}

// docObject is a struct of the input document: its members sorted by name,
// the order appendCanonical writes an object's members in.
type docObject[T any] []docField[T]

// at appends what path[i:] denotes in x (see appendAt).
func (o docObject[T]) at(buf []byte, x *T, path ast.Ref, i int) ([]byte, bool) {
	if i == len(path) {
		return o.enc(append(buf, 'v'), x)
	}
	f := o.member(x, path[i])
	if f == nil {
		return absentAt(buf, i), true
	}
	if f.at != nil {
		return f.at(buf, x, path, i+1)
	}
	return f.enc(leafAt(buf, path, i+1), x)
}

// member returns the field k names when x's object has it.
func (o docObject[T]) member(x *T, k *ast.Term) *docField[T] {
	s, ok := k.Value.(ast.String)
	if !ok {
		return nil // a number never names a member
	}
	for i := range o {
		if o[i].name == string(s) {
			if o[i].has != nil && !o[i].has(x) {
				return nil
			}
			return &o[i]
		}
	}
	return nil
}

// enc appends x as an object: its member count, then each member.
func (o docObject[T]) enc(buf []byte, x *T) ([]byte, bool) {
	n := 0
	for i := range o {
		if o[i].has == nil || o[i].has(x) {
			n++
		}
	}
	buf = binary.AppendUvarint(append(buf, 'o'), uint64(n))
	for i := range o {
		if o[i].has != nil && !o[i].has(x) {
			continue
		}
		var ok bool
		if buf, ok = o[i].enc(appendBytes(append(buf, 's'), o[i].name), x); !ok {
			return buf, false
		}
	}
	return buf, true
}

// leafAt starts what a path denotes at a value that is not an object, at
// depth i: the value itself ('v') at the end of the path, else the whole
// value where the path meets it ('w').
func leafAt(buf []byte, path ast.Ref, i int) []byte {
	if i == len(path) {
		return append(buf, 'v')
	}
	return binary.AppendUvarint(append(buf, 'w'), uint64(i))
}

// absentAt is a path whose element i names no member.
func absentAt(buf []byte, i int) []byte {
	return binary.AppendUvarint(append(buf, 'x'), uint64(i))
}

// encString appends a string value.
func encString(buf []byte, s string) []byte { return appendBytes(append(buf, 's'), s) }

// encBool appends a boolean value.
func encBool(buf []byte, b bool) []byte {
	if b {
		return append(buf, 't')
	}
	return append(buf, 'f')
}

// encStrings appends stringsTerm(ss): null when nil.
func encStrings(buf []byte, ss []string) []byte {
	if ss == nil {
		return append(buf, 'n')
	}
	buf = binary.AppendUvarint(append(buf, 'a'), uint64(len(ss)))
	for _, s := range ss {
		buf = encString(buf, s)
	}
	return buf
}

// Member constructors: how inputValue writes each kind of member.

// strField is a string member; opt leaves it out when empty (optString).
func strField[T any](name string, opt bool, get func(*T) string) docField[T] {
	f := docField[T]{name: name, enc: func(b []byte, x *T) ([]byte, bool) { return encString(b, get(x)), true }}
	if opt {
		f.has = func(x *T) bool { return get(x) != "" }
	}
	return f
}

// boolField is a boolean member.
func boolField[T any](name string, get func(*T) bool) docField[T] {
	return docField[T]{name: name, enc: func(b []byte, x *T) ([]byte, bool) { return encBool(b, get(x)), true }}
}

// stringsField is a list of strings (null when nil); has may be nil.
func stringsField[T any](name string, has func(*T) bool, get func(*T) []string) docField[T] {
	return docField[T]{name: name, has: has, enc: func(b []byte, x *T) ([]byte, bool) { return encStrings(b, get(x)), true }}
}

// objField is a member that is a struct of the input; has may be nil.
func objField[T, U any](name string, doc docObject[U], has func(*T) bool, get func(*T) *U) docField[T] {
	return docField[T]{
		name: name, has: has,
		enc: func(b []byte, x *T) ([]byte, bool) { return doc.enc(b, get(x)) },
		at:  func(b []byte, x *T, p ast.Ref, i int) ([]byte, bool) { return doc.at(b, get(x), p, i) },
	}
}

// goField is a member holding JSON-decoded Go values (claims, arguments,
// headers, annotations), encoded as anyValue converts them.
func goField[T any](name string, has func(*T) bool, get func(*T) any) docField[T] {
	return docField[T]{
		name: name, has: has,
		enc: func(b []byte, x *T) ([]byte, bool) { return appendGo(b, get(x), 0) },
		at:  func(b []byte, x *T, p ast.Ref, i int) ([]byte, bool) { return anyAt(b, get(x), p, i, 0) },
	}
}

// astField is a rare member (the JSON-RPC id, the response processor's
// list and output, connections): its AST value is built when a path reads
// it, which keeps its encoding exactly inputValue's.
func astField[T any](name string, has func(*T) bool, val func(*T) ast.Value) docField[T] {
	return docField[T]{
		name: name, has: has,
		enc: func(b []byte, x *T) ([]byte, bool) { return appendCanonical(b, val(x)) },
		at:  func(b []byte, x *T, p ast.Ref, i int) ([]byte, bool) { return appendAt(b, val(x), p, i) },
	}
}
