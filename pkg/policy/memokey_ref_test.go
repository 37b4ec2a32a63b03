package policy

import (
	"encoding/binary"
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The references the key walk is tested against: projectionKey is the
// definition (what each read path denotes in the AST OPA evaluates);
// oldKey is the key the cache used before the walk (the AST built without
// the fields no path reaches, claims encoded apart from their Go values).

// projectionKey is what the paths denote in inputValue(in), by appendAt.
func projectionKey(paths []ast.Ref, in *Input) ([]byte, bool) {
	v := inputValue(in)
	var buf []byte
	for _, p := range paths {
		var ok bool
		if buf, ok = appendAt(buf, v, p[1:], 0); !ok {
			return buf, false
		}
	}
	return buf, true
}

// oldSkipped names the costly input fields no read path reaches.
type oldSkipped struct{ headers, arguments, request, claims bool }

// oldKey is the former memo.key.
func oldKey(paths []ast.Ref, in *Input) ([]byte, bool) {
	skip := oldSkipped{
		headers:   oldUntouched(paths, "http", "headers"),
		arguments: oldUntouched(paths, "mcp", "arguments"),
		request:   oldUntouched(paths, "request"),
		claims:    oldUntouched(paths, "principal", "claims"),
	}
	k := *in
	if skip.headers {
		k.HTTP.Headers = nil
	}
	if skip.arguments {
		k.MCP.Arguments = nil
	}
	if skip.request {
		k.Request = Request{}
	}
	k.Principal.Claims = nil
	input := inputValue(&k)
	var buf []byte
	for _, p := range paths {
		var ok bool
		if buf, ok = appendAt(buf, input, p[1:], 0); !ok || len(buf) > maxKeyBytes {
			return buf, false
		}
	}
	if skip.claims {
		return buf, true
	}
	buf, ok := oldAppendGo(append(buf, 'C'), in.Principal.Claims, 0)
	return buf, ok && len(buf) <= maxKeyBytes
}

// oldUntouched reports whether no path reads input.<field…>.
func oldUntouched(paths []ast.Ref, field ...string) bool {
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

// oldAppendGo is the former claims encoding: numbers tagged by Go type.
func oldAppendGo(buf []byte, v any, depth int) ([]byte, bool) {
	if depth > maxGoDepth {
		return buf, false
	}
	switch x := v.(type) {
	case nil:
		return append(buf, 'n'), true
	case bool:
		return encBool(buf, x), true
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
		for _, e := range x {
			var ok bool
			if buf, ok = oldAppendGo(buf, e, depth+1); !ok {
				return buf, false
			}
		}
		return buf, true
	case map[string]any:
		if x == nil {
			return append(buf, 'n'), true
		}
		buf = binary.AppendUvarint(append(buf, 'o'), uint64(len(x)))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			var ok bool
			if buf, ok = oldAppendGo(appendBytes(append(buf, 's'), k), x[k], depth+1); !ok {
				return buf, false
			}
		}
		return buf, true
	}
	return buf, false
}
