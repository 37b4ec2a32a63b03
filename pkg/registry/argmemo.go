package registry

import (
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Defaults of the argument-validation memo (Options fields left zero).
const (
	// DefaultArgCacheEntries bounds the validations one registry revision
	// remembers.
	DefaultArgCacheEntries = 4096
	// DefaultArgCacheBytes bounds the summed key bytes it holds (keys are
	// the arguments' canonical encoding, so this bounds its memory).
	DefaultArgCacheBytes = 4 << 20
	// maxArgKeyBytes bounds one key: larger arguments are validated every
	// time. It exceeds the bodies of ordinary calls (the fixture mix's
	// largest is 8 KiB) and stays a small share of DefaultArgCacheBytes.
	maxArgKeyBytes = 16 << 10
	// maxArgDepth bounds appendArg's recursion (pkg/mcp bounds the nesting
	// of what reaches Check; this only guards the stack).
	maxArgDepth = 64
)

// argResult is one remembered outcome of toolEntry.validate.
type argResult struct {
	valid bool
	err   string
}

// argEntry is a kept result with its whole key: the cache is indexed by
// the key's seeded hash (so a hit allocates nothing, whatever the
// arguments' size) and a hit still requires the exact key.
type argEntry struct {
	key string
	res argResult
}

// argMemo remembers toolEntry.validate per (tool, exact arguments). It
// lives in a Registry, which is one bundle revision: a key never crosses a
// registry change. Validation is a pure function of the tool's compiled
// schema and declared names (both immutable) and the arguments, so a kept
// result is what validating again would return.
type argMemo struct {
	cache  *lru.Cache[uint64, *argEntry]
	seed   maphash.Seed // random per memo: a client cannot aim at collisions
	budget int64        // most key bytes kept
	bytes  atomic.Int64 // key bytes kept now
	// hits, misses and skipped (not cacheable: too large, or a value the
	// encoding does not know) count lookups.
	hits, misses, skipped atomic.Uint64
}

// newArgMemo returns a memo of at most entries results and budget key
// bytes, or nil (off) when entries < 0.
func newArgMemo(entries, budget int) *argMemo {
	if entries < 0 {
		return nil
	}
	m := &argMemo{budget: int64(budget), seed: maphash.MakeSeed()}
	m.cache, _ = lru.NewWithEvict(entries, func(_ uint64, e *argEntry) { m.bytes.Add(-int64(len(e.key))) })
	return m
}

// get returns the kept result of key, whose hash is h. An entry of
// another key under the same hash (a collision) is a miss.
func (m *argMemo) get(h uint64, key []byte) (argResult, bool) {
	e, ok := m.cache.Get(h)
	if ok && e.key == string(key) {
		m.hits.Add(1)
		return e.res, true
	}
	m.misses.Add(1)
	return argResult{}, false
}

// put keeps r under key (hash h) unless an entry holds h already (a
// concurrent miss kept it, or a colliding key: that one stays), then
// evicts the least recently used results while the key bytes exceed the
// budget. An entry's bytes are counted once when it is added and returned
// once by the eviction callback, so the count settles on the true sum.
func (m *argMemo) put(h uint64, key []byte, r argResult) {
	e := &argEntry{key: string(key), res: r}
	if found, _ := m.cache.ContainsOrAdd(h, e); found {
		return
	}
	m.bytes.Add(int64(len(e.key)))
	for m.bytes.Load() > m.budget {
		if _, _, ok := m.cache.RemoveOldest(); !ok {
			return
		}
	}
}

// argKeyBufs recycles key buffers.
var argKeyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// validate is t.validate(args) through r's memo: the kept result when the
// same arguments were validated for t in this revision, else a validation
// that is then kept. Arguments the key cannot hold are validated uncached.
func (r *Registry) validate(t *toolEntry, args map[string]any) (bool, string) {
	m := r.args
	if m == nil {
		return t.validate(args)
	}
	bp := argKeyBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 2*maxArgKeyBytes {
			argKeyBufs.Put(bp)
		}
	}()
	key, ok := argKey((*bp)[:0], t.seq, args)
	*bp = key[:0]
	if !ok {
		m.skipped.Add(1)
		return t.validate(args)
	}
	h := maphash.Bytes(m.seed, key)
	if res, hit := m.get(h, key); hit {
		return res.valid, res.err
	}
	valid, msg := t.validate(args)
	m.put(h, key, argResult{valid: valid, err: msg})
	return valid, msg
}

// argKey appends the key of (tool seq, args): the tool's number in its
// registry, then the arguments' canonical encoding. nil arguments are
// validated as {} and encode as {}. ok is false when the key would exceed
// maxArgKeyBytes or args hold a value appendArg does not know.
func argKey(buf []byte, seq uint64, args map[string]any) ([]byte, bool) {
	buf = binary.AppendUvarint(buf, seq)
	if args == nil {
		args = map[string]any{}
	}
	buf, ok := appendArg(buf, args, 0)
	return buf, ok && len(buf) <= maxArgKeyBytes
}

// appendArg appends an injective encoding of a JSON-decoded value: a type
// tag, then lengths as uvarints and contents; object members sorted by
// name. Numbers keep their type and text, so 1 and 1.0 (or json.Number
// and float64) never share a key, which can only cost a hit. A nil map or
// slice encodes as the empty object or array, which is how the validator
// and the case check treat it. ok is false past maxArgKeyBytes or
// maxArgDepth, or for a type the encoding does not know.
func appendArg(buf []byte, v any, depth int) ([]byte, bool) {
	if depth > maxArgDepth || len(buf) > maxArgKeyBytes {
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
		return appendArgString(buf, 's', x)
	case json.Number:
		return appendArgString(buf, 'd', string(x))
	case float64:
		return appendArgString(buf, 'F', strconv.FormatFloat(x, 'g', -1, 64))
	case []any:
		return appendArgArray(buf, x, depth)
	case map[string]any:
		return appendArgObject(buf, x, depth)
	}
	return buf, false
}

// appendArgString appends tag, len(s) and s, unless that passes the bound.
func appendArgString(buf []byte, tag byte, s string) ([]byte, bool) {
	if len(buf)+len(s) > maxArgKeyBytes {
		return buf, false
	}
	return append(binary.AppendUvarint(append(buf, tag), uint64(len(s))), s...), true
}

// appendArgArray appends 'a', the length and every element.
func appendArgArray(buf []byte, x []any, depth int) ([]byte, bool) {
	buf = binary.AppendUvarint(append(buf, 'a'), uint64(len(x)))
	ok := true
	for _, e := range x {
		if buf, ok = appendArg(buf, e, depth+1); !ok {
			return buf, false
		}
	}
	return buf, true
}

// appendArgObject appends 'o', the member count and each member (name as
// a string, then its value) in name order.
func appendArgObject(buf []byte, x map[string]any, depth int) ([]byte, bool) {
	var small [16]string
	names := small[:0]
	for k := range x {
		names = append(names, k)
	}
	slices.Sort(names)
	buf = binary.AppendUvarint(append(buf, 'o'), uint64(len(x)))
	ok := true
	for _, k := range names {
		if buf, ok = appendArgString(buf, 's', k); !ok {
			return buf, false
		}
		if buf, ok = appendArg(buf, x[k], depth+1); !ok {
			return buf, false
		}
	}
	return buf, true
}

// ArgCacheStats is what the argument-validation memo of one registry did.
type ArgCacheStats struct {
	// On is false when the memo is off (Options.ArgCacheEntries < 0).
	On bool
	// Hits, Misses and Skipped count lookups; Skipped ones could not be
	// kept (too large, or an unknown value type) and were validated.
	Hits, Misses, Skipped uint64
	// Len is the number of results kept; Bytes their summed key bytes.
	Len   int
	Bytes int64
}

// ArgCacheStats reports on r's argument-validation memo.
func (r *Registry) ArgCacheStats() ArgCacheStats {
	if r == nil || r.args == nil {
		return ArgCacheStats{}
	}
	m := r.args
	return ArgCacheStats{On: true, Hits: m.hits.Load(), Misses: m.misses.Load(), Skipped: m.skipped.Load(),
		Len: m.cache.Len(), Bytes: m.bytes.Load()}
}
