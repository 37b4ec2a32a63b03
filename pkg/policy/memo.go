package policy

import (
	"encoding/binary"
	"encoding/json"
	"maps"
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
// crosses revisions. It holds results only: an evaluation error, a
// deadline or a malformed decision is never kept.
type memo struct {
	paths  []ast.Ref
	skip   skipped // input fields no path reaches: left out of the key's value
	cache  *lru.Cache[string, *ast.Term]
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
	cache, err := lru.New[string, *ast.Term](size)
	if err != nil {
		return nil, err
	}
	return &memo{paths: paths, cache: cache, skip: skippedFor(paths)}, nil
}

// skipped names the costly input fields (per-request, often large) that
// no read path reaches: the key's input value is built without them.
type skipped struct{ headers, arguments, request, claims bool }

// skippedFor finds the costly fields paths leave alone.
func skippedFor(paths []ast.Ref) skipped {
	return skipped{
		headers:   untouched(paths, "http", "headers"),
		arguments: untouched(paths, "mcp", "arguments"),
		request:   untouched(paths, "request"),
		claims:    untouched(paths, "principal", "claims"),
	}
}

// untouched reports whether no path reads input.<field…>: none is a prefix
// of it (reading input.http reads its headers) and none lies under it.
func untouched(paths []ast.Ref, field ...string) bool {
	ref := ast.Ref{ast.InputRootDocument}
	for _, f := range field {
		ref = append(ref, ast.StringTerm(f))
	}
	for _, p := range paths {
		if p.HasPrefix(ref) || ref.HasPrefix(p) {
			return false
		}
	}
	return true
}

// keyInput returns the input value the key's paths are read from: in's
// value without the fields no path reaches (their absence changes nothing
// the paths denote) and without the claims (key encodes them apart).
func (m *memo) keyInput(in *Input) ast.Value {
	k := *in
	if m.skip.headers {
		k.HTTP.Headers = nil
	}
	if m.skip.arguments {
		k.MCP.Arguments = nil
	}
	if m.skip.request {
		k.Request = Request{}
	}
	k.Principal.Claims = nil // skipped, or encoded from Go values (key)
	return inputValue(&k)
}

// keyBufs recycles key buffers.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// key encodes the projection of in; ok is false when it cannot be kept
// (too large, or a value the encoding does not know). Claims, when read,
// are encoded from their Go values (no AST built for them): the AST value
// is a function of them, so equal encodings still mean equal claims.
func (m *memo) key(buf []byte, in *Input) ([]byte, bool) {
	input := m.keyInput(in)
	for _, p := range m.paths {
		var ok bool
		if buf, ok = appendAt(buf, input, p[1:]); !ok || len(buf) > maxKeyBytes {
			return buf, false
		}
	}
	if m.skip.claims {
		return buf, true
	}
	buf, ok := appendGo(append(buf, 'C'), in.Principal.Claims, 0)
	return buf, ok && len(buf) <= maxKeyBytes
}

// maxGoDepth bounds appendGo's recursion (claims are bounded by the token
// size; this only guards the stack).
const maxGoDepth = 32

// appendGo is appendCanonical for the Go values of JSON-decoded claims:
// injective, map keys sorted. Numbers keep their type and text. A type it
// does not know makes the input uncacheable (false).
func appendGo(buf []byte, v any, depth int) ([]byte, bool) {
	if depth > maxGoDepth {
		return buf, false
	}
	switch x := v.(type) {
	case nil:
		return append(buf, 'n'), true
	case bool:
		if x {
			return append(buf, 't'), true
		}
		return append(buf, 'f'), true
	case string:
		return appendBytes(append(buf, 's'), x), true
	case json.Number:
		return appendBytes(append(buf, 'd'), string(x)), true
	case float64:
		return appendBytes(append(buf, 'F'), strconv.FormatFloat(x, 'g', -1, 64)), true
	case int64:
		return appendBytes(append(buf, 'i'), strconv.FormatInt(x, 10)), true
	case int:
		return appendBytes(append(buf, 'i'), strconv.Itoa(x)), true
	case []string:
		buf = binary.AppendUvarint(append(buf, 'a'), uint64(len(x)))
		for _, e := range x {
			buf = appendBytes(append(buf, 's'), e)
		}
		return buf, true
	case []any:
		buf = binary.AppendUvarint(append(buf, 'a'), uint64(len(x)))
		ok := true
		for _, e := range x {
			if buf, ok = appendGo(buf, e, depth+1); !ok {
				return buf, false
			}
		}
		return buf, true
	case map[string]any:
		if x == nil {
			return append(buf, 'n'), true
		}
		buf = binary.AppendUvarint(append(buf, 'o'), uint64(len(x)))
		ok := true
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if buf, ok = appendGo(appendBytes(append(buf, 's'), k), x[k], depth+1); !ok {
				return buf, false
			}
		}
		return buf, true
	}
	return buf, false
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

// get returns the kept result of key.
func (m *memo) get(key string) (*ast.Term, bool) {
	t, ok := m.cache.Get(key)
	if ok {
		m.hits.Add(1)
	} else {
		m.misses.Add(1)
	}
	return t, ok
}

// put keeps a well-formed result.
func (m *memo) put(key string, t *ast.Term) { m.cache.Add(key, t) }

// appendAt appends the canonical form of what path denotes in v: the
// value there, "absent" where a key is missing, or the whole value where
// the path meets a non-object (a reference into an array, string or set
// then sees no more than that value).
func appendAt(buf []byte, v ast.Value, path ast.Ref) ([]byte, bool) {
	for i, k := range path {
		obj, ok := v.(ast.Object)
		if !ok {
			buf = binary.AppendUvarint(append(buf, 'w'), uint64(i))
			return appendCanonical(buf, v)
		}
		t := obj.Get(k)
		if t == nil {
			return binary.AppendUvarint(append(buf, 'x'), uint64(i)), true
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
