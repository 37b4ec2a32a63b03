package policy

import (
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// maxKeyBytes bounds one cache key: a projection larger than this (a huge
// claims set) is evaluated every time rather than kept.
const maxKeyBytes = 4 << 10

// memo is one revision's decision cache: the policy's result per exact
// value of the part of the input it can read (inputReads). It lives in the
// revision's snapshot, so a new revision starts empty and a key never
// crosses revisions. It holds decoded decisions only: an evaluation error,
// a deadline or a malformed decision is never kept. Keeping the decoded
// Decision (not the policy's AST result) spares a hit the decoding.
type memo struct {
	paths  []ast.Ref
	cache  *lru.Cache[string, Decision]
	hits   atomic.Uint64
	misses atomic.Uint64
}

// newMemo returns the cache of a compiled revision, or nil with the reason
// when its decision depends on more than a projection of the input, or
// size is 0 (off).
func newMemo(c *ast.Compiler, size int) (*memo, error) {
	if size <= 0 {
		return nil, nil
	}
	paths, err := inputReads(c)
	if err != nil {
		return nil, err
	}
	cache, err := lru.New[string, Decision](size)
	if err != nil {
		return nil, err
	}
	return &memo{paths: paths, cache: cache}, nil
}

// keyBufs recycles key buffers.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// key encodes the projection of in: for each read path, what it denotes in
// in's input document, walked on the Go values (memokey.go) so that no AST
// is built for a lookup; ok is false when it cannot be kept (too large, or
// nested deeper than maxGoDepth).
func (m *memo) key(buf []byte, in *Input) ([]byte, bool) {
	for _, p := range m.paths {
		var ok bool
		if buf, ok = inputDoc.at(buf, in, p[1:], 0); !ok || len(buf) > maxKeyBytes {
			return buf, false
		}
	}
	return buf, true
}

// maxGoDepth bounds appendGo's recursion (claims are bounded by the token
// size, arguments by the JSON depth limit; this only guards the stack).
const maxGoDepth = 32

// appendGo appends appendCanonical(anyValue(v)) without building the
// value: the same tags, numbers as the text anyValue gives them (a
// json.Number's own text, null when invalid; a float64 formatted as
// ast.FloatNumberTerm does), map keys sorted. A type anyValue converts
// through its JSON form takes that path here too.
func appendGo(buf []byte, v any, depth int) ([]byte, bool) {
	if depth > maxGoDepth {
		return buf, false
	}
	switch x := v.(type) {
	case nil:
		return append(buf, 'n'), true
	case bool:
		return encBool(buf, x), true
	case string:
		return encString(buf, x), true
	case json.Number, float64, int, int64:
		return encNumber(buf, x), true
	case []string:
		return encStrings(buf, x), true
	case []any:
		buf = binary.AppendUvarint(append(buf, 'a'), uint64(len(x)))
		for _, e := range x {
			var ok bool
			if buf, ok = appendGo(buf, e, depth+1); !ok {
				return buf, false
			}
		}
		return buf, true
	case map[string]any:
		return encMap(buf, x, func(b []byte, e any) ([]byte, bool) { return appendGo(b, e, depth+1) })
	case map[string]string:
		return encMap(buf, x, func(b []byte, e string) ([]byte, bool) { return encString(b, e), true })
	case map[string]bool:
		return encMap(buf, x, func(b []byte, e bool) ([]byte, bool) { return encBool(b, e), true })
	}
	return appendCanonical(buf, anyValue(v))
}

// encNumber appends a number as anyValue converts it.
func encNumber(buf []byte, v any) []byte {
	var scratch [32]byte
	var text []byte
	switch x := v.(type) {
	case json.Number: // as numberValue, without boxing the result
		if _, err := ast.NumberChecked(string(x)); err != nil || !isJSONNumber(string(x)) {
			return append(buf, 'n')
		}
		return appendBytes(append(buf, 'd'), string(x))
	case float64:
		text = strconv.AppendFloat(scratch[:0], x, 'g', -1, 64)
	case int:
		text = strconv.AppendInt(scratch[:0], int64(x), 10)
	case int64:
		text = strconv.AppendInt(scratch[:0], x, 10)
	}
	return append(binary.AppendUvarint(append(buf, 'd'), uint64(len(text))), text...)
}

// encMap appends an object of string keys: null when m is nil (as
// anyValue converts a nil map), else its members in key order.
func encMap[V any](buf []byte, m map[string]V, enc func([]byte, V) ([]byte, bool)) ([]byte, bool) {
	if m == nil {
		return append(buf, 'n'), true
	}
	var small [16]string // claims and arguments are small: sort on the stack
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = binary.AppendUvarint(append(buf, 'o'), uint64(len(m)))
	for _, k := range keys {
		var ok bool
		if buf, ok = enc(encString(buf, k), m[k]); !ok {
			return buf, false
		}
	}
	return buf, true
}

// anyAt appends what path[i:] denotes in the Go value v (see appendAt):
// maps are objects, every other value anyValue converts to a non-object
// ends the walk.
func anyAt(buf []byte, v any, path ast.Ref, i, depth int) ([]byte, bool) {
	if i == len(path) {
		return appendGo(append(buf, 'v'), v, depth)
	}
	switch x := v.(type) {
	case map[string]any:
		if x != nil {
			return memberAt(buf, x, path, i, depth)
		}
	case map[string]string:
		if x != nil {
			return memberAt(buf, x, path, i, depth)
		}
	case map[string]bool:
		if x != nil {
			return memberAt(buf, x, path, i, depth)
		}
	case nil, bool, string, json.Number, float64, int, int64, []string, []any:
	default:
		return appendAt(buf, anyValue(v), path, i)
	}
	return appendGo(leafAt(buf, path, i), v, depth)
}

// memberAt walks on from a map's member path[i] (absent unless a string
// key the map has).
func memberAt[V any](buf []byte, m map[string]V, path ast.Ref, i, depth int) ([]byte, bool) {
	k, ok := path[i].Value.(ast.String)
	if !ok {
		return absentAt(buf, i), true
	}
	e, ok := m[string(k)]
	if !ok {
		return absentAt(buf, i), true
	}
	return anyAt(buf, e, path, i+1, depth+1)
}

// maxPooledKey bounds the key buffers kept for reuse.
const maxPooledKey = 64 << 10

// keyOf returns the cache key of input on snapshot s, or false when s has
// no cache, a tracer needs the evaluation itself, or input's projection
// cannot be kept.
func (s *snapshot) keyOf(in *Input, tracer topdown.QueryTracer) (string, bool) {
	if s.memo == nil || tracer != nil {
		return "", false
	}
	bp := keyBufs.Get().(*[]byte)
	buf, ok := s.memo.key((*bp)[:0], in)
	var k string
	if ok {
		k = string(buf)
	}
	if cap(buf) <= maxPooledKey {
		*bp = buf[:0]
		keyBufs.Put(bp)
	}
	return k, ok
}

// get returns a copy of the decision kept for key (see Decision.clone).
func (m *memo) get(key string) (Decision, bool) {
	d, ok := m.cache.Get(key)
	if !ok {
		m.misses.Add(1)
		return Decision{}, false
	}
	m.hits.Add(1)
	return d.clone(), true
}

// put keeps a copy of a well-formed decision, so that the caller's
// changes to d never reach a hit.
func (m *memo) put(key string, d Decision) { m.cache.Add(key, d.clone()) }

// appendAt appends the canonical form of what path[i:] denotes in v: the
// value there, "absent" where a key is missing, or the whole value where
// the path meets a non-object (a reference into an array, string or set
// then sees no more than that value). Positions count from path[0].
func appendAt(buf []byte, v ast.Value, path ast.Ref, i int) ([]byte, bool) {
	for ; i < len(path); i++ {
		obj, ok := v.(ast.Object)
		if !ok {
			return appendCanonical(leafAt(buf, path, i), v)
		}
		t := obj.Get(path[i])
		if t == nil {
			return absentAt(buf, i), true
		}
		v = t.Value
	}
	return appendCanonical(append(buf, 'v'), v)
}

// appendCanonical appends an injective, order-independent encoding of a
// data value: a type tag, lengths as uvarints, object members and set
// elements in OPA's sorted order. Numbers keep their text (1 and 1.0 stay
// apart, which can only cost a hit).
func appendCanonical(buf []byte, v ast.Value) ([]byte, bool) {
	switch x := v.(type) {
	case ast.Null:
		return append(buf, 'n'), true
	case ast.Boolean:
		if x {
			return append(buf, 't'), true
		}
		return append(buf, 'f'), true
	case ast.Number:
		return appendBytes(append(buf, 'd'), string(x)), true
	case ast.String:
		return appendBytes(append(buf, 's'), string(x)), true
	case *ast.Array:
		buf = binary.AppendUvarint(append(buf, 'a'), uint64(x.Len()))
		for i := range x.Len() {
			var ok bool
			if buf, ok = appendCanonical(buf, x.Elem(i).Value); !ok {
				return buf, false
			}
		}
		return buf, true
	case ast.Object:
		buf = binary.AppendUvarint(append(buf, 'o'), uint64(x.Len()))
		it := x.KeysIterator() // sorted: equal objects encode alike
		for k, more := it.Next(); more; k, more = it.Next() {
			var ok bool
			if buf, ok = appendCanonical(buf, k.Value); !ok {
				return buf, false
			}
			if buf, ok = appendCanonical(buf, x.Get(k).Value); !ok {
				return buf, false
			}
		}
		return buf, true
	case ast.Set:
		buf = binary.AppendUvarint(append(buf, 'S'), uint64(x.Len()))
		ok := true
		x.Foreach(func(t *ast.Term) {
			if ok {
				buf, ok = appendCanonical(buf, t.Value)
			}
		})
		return buf, ok
	}
	return buf, false
}

// appendBytes appends s with its length.
func appendBytes(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// CacheStats is what the decision cache of the active revision did.
type CacheStats struct {
	// On is false when the cache is off: size 0, or the bundle's decision
	// depends on more than its input projection (Reason says why).
	On bool
	// Reason says why the cache is off for this revision ("" when on or
	// disabled by size 0).
	Reason string
	// Paths are the input paths the key is built from.
	Paths []string
	// Hits and Misses count lookups since the revision was activated.
	Hits, Misses uint64
	// Len is the number of decisions kept.
	Len int
}

// DecisionCacheStats reports on the active revision's decision cache.
func (e *Engine) DecisionCacheStats() CacheStats {
	snap := e.cur.Load()
	if snap == nil {
		return CacheStats{}
	}
	if snap.memo == nil {
		return CacheStats{Reason: snap.memoOff}
	}
	st := CacheStats{On: true, Hits: snap.memo.hits.Load(), Misses: snap.memo.misses.Load(), Len: snap.memo.cache.Len()}
	for _, p := range snap.memo.paths {
		st.Paths = append(st.Paths, p.String())
	}
	return st
}
