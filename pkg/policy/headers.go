package policy

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// asHeaders decodes a header map: at most maxHeaders entries, names that
// are lower-case RFC 9110 tokens, values without control characters other
// than HTAB, so a policy cannot split a header or smuggle a pseudo-header.
func asHeaders(v ast.Value) (map[string]string, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("is %s; want object", ast.ValueName(v))
	}
	if obj.Len() > maxHeaders {
		return nil, fmt.Errorf("has %d headers; want at most %d", obj.Len(), maxHeaders)
	}
	out := make(map[string]string, obj.Len())
	err := obj.Iter(func(k, val *ast.Term) error {
		name, ok := k.Value.(ast.String)
		if !ok || !ValidHeaderName(string(name)) {
			return fmt.Errorf("key %v is not a lower-case header name mcp-authz may set", k)
		}
		value, err := asString(val.Value, maxHeaderValueLen)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !ValidHeaderValue(value) {
			return fmt.Errorf("%s: value has control characters", name)
		}
		out[string(name)] = value
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ValidHeaderName reports whether a decision may name header s in
// upstream_headers or response_headers: a non-empty lower-case RFC 9110
// token (so no pseudo-header), and not host, which would reroute the
// request. The decoder and the ext_authz response builder share this rule.
func ValidHeaderName(s string) bool {
	return isHeaderName(s) && s != "host"
}

// isHeaderName reports whether s is a non-empty lower-case token (tchar).
func isHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && !isTokenSymbol(c) {
			return false
		}
	}
	return true
}

// isTokenSymbol reports the tchar symbols of RFC 9110 section 5.6.2.
func isTokenSymbol(c byte) bool {
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// ValidHeaderValue refuses CTLs (except HTAB) and DEL, so a value cannot
// split a header.
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// asMetadata decodes dynamic metadata into the types structpb.NewStruct
// accepts: map[string]any, []any, string, bool, float64 and nil.
func asMetadata(v ast.Value) (map[string]any, error) {
	if _, ok := v.(ast.Object); !ok {
		return nil, fmt.Errorf("is %s; want object", ast.ValueName(v))
	}
	out, err := metadataValue(v, 0)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

func metadataValue(v ast.Value, depth int) (any, error) {
	if depth > maxMetadataDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxMetadataDepth)
	}
	switch x := v.(type) {
	case ast.Null:
		return nil, nil
	case ast.Boolean:
		return bool(x), nil
	case ast.String:
		return string(x), nil
	case ast.Number:
		f, ok := x.Float64()
		if !ok {
			return nil, fmt.Errorf("number %s does not fit a float64", x)
		}
		return f, nil
	case *ast.Array:
		return metadataList(x.Len(), x.Elem, depth)
	case ast.Set:
		terms := x.Slice()
		return metadataList(len(terms), func(i int) *ast.Term { return terms[i] }, depth)
	case ast.Object:
		return metadataObject(x, depth)
	}
	return nil, fmt.Errorf("%s is not JSON", ast.ValueName(v))
}

func metadataList(n int, elem func(int) *ast.Term, depth int) ([]any, error) {
	out := make([]any, n)
	for i := range n {
		e, err := metadataValue(elem(i).Value, depth+1)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

func metadataObject(obj ast.Object, depth int) (map[string]any, error) {
	out := make(map[string]any, obj.Len())
	err := obj.Iter(func(k, val *ast.Term) error {
		name, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("has a %s key; want string", ast.ValueName(k.Value))
		}
		e, err := metadataValue(val.Value, depth+1)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out[string(name)] = e
		return nil
	})
	return out, err
}
