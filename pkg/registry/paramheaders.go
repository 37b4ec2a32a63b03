package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// Mcp-Param-* headers (MCP 2026-07-28, Streamable HTTP "custom headers from
// tool parameters", SEP-2243): a property of a tool's inputSchema reachable
// through "properties" alone may carry "x-mcp-header": "<Name>"; a client
// then mirrors the argument into header Mcp-Param-<Name>, wrapping values
// that are not plain visible ASCII as =?base64?<std base64>?=. Intermediaries
// route on the header, the server acts on the body, so the two must agree.

// ParamHeaderPrefix is the prefix of every parameter header.
const ParamHeaderPrefix = "Mcp-Param-"

// ErrParamHeader is wrapped by every CheckParamHeaders failure (the lead
// maps it to JSON-RPC -32020, header mismatch).
var ErrParamHeader = errors.New("Mcp-Param header does not match the tool arguments")

// maxSafeInteger is 2^53-1, the largest integer a header may carry.
const maxSafeInteger = 1<<53 - 1

// headerBinding is one x-mcp-header declaration of an approved schema.
type headerBinding struct {
	header  string   // "Mcp-Param-Region"
	lower   string   // "mcp-param-region"
	path    []string // property names from the root
	pointer string   // "/region"
}

// scanHeaders collects the x-mcp-header declarations of an inputSchema and
// enforces the spec's constraints: only under a chain of "properties", on a
// string, integer or boolean property, an HTTP token, unique ignoring case.
func scanHeaders(schema any) ([]headerBinding, error) {
	var out []headerBinding
	if err := walkSchema(schema, nil, true, &out); err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, b := range out {
		if prev, dup := seen[b.lower]; dup {
			return nil, fmt.Errorf("x-mcp-header %q declared at %s and %s", b.header, prev, b.pointer)
		}
		seen[b.lower] = b.pointer
	}
	slices.SortFunc(out, func(a, b headerBinding) int { return strings.Compare(a.pointer, b.pointer) })
	return out, nil
}

// Keywords whose values are data, not schemas.
var dataKeywords = map[string]bool{"const": true, "enum": true, "default": true, "examples": true, "x-mcp-header": true}

// Keywords whose values map names to schemas.
var schemaMapKeywords = map[string]bool{"$defs": true, "definitions": true, "patternProperties": true, "dependentSchemas": true, "dependencies": true}

func walkSchema(node any, path []string, reachable bool, out *[]headerBinding) error {
	switch n := node.(type) {
	case []any:
		for _, child := range n {
			if err := walkSchema(child, path, false, out); err != nil {
				return err
			}
		}
	case map[string]any:
		if err := declared(n, path, reachable, out); err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(n)) {
			if err := walkKeyword(k, n[k], path, reachable, out); err != nil {
				return err
			}
		}
	}
	return nil
}

func walkKeyword(k string, v any, path []string, reachable bool, out *[]headerBinding) error {
	m, isMap := v.(map[string]any)
	switch {
	case dataKeywords[k]:
		return nil
	case k == "properties" && isMap:
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if err := walkSchema(m[name], append(path[:len(path):len(path)], name), reachable, out); err != nil {
				return err
			}
		}
		return nil
	case schemaMapKeywords[k] && isMap:
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if err := walkSchema(m[name], path, false, out); err != nil {
				return err
			}
		}
		return nil
	}
	return walkSchema(v, path, false, out)
}

// declared records node's x-mcp-header, if any, after checking it.
func declared(node map[string]any, path []string, reachable bool, out *[]headerBinding) error {
	raw, ok := node["x-mcp-header"]
	if !ok {
		return nil
	}
	at := pointer(path)
	name, _ := raw.(string)
	switch typ, _ := node["type"].(string); {
	case !reachable || len(path) == 0:
		return fmt.Errorf("x-mcp-header at %s is not reachable through properties alone", at)
	case !isToken(name):
		return fmt.Errorf("x-mcp-header at %s: %q is not an HTTP token", at, name)
	case typ != "string" && typ != "integer" && typ != "boolean":
		return fmt.Errorf("x-mcp-header at %s: type %q (want string, integer or boolean)", at, typ)
	}
	header := ParamHeaderPrefix + name
	*out = append(*out, headerBinding{header: header, lower: strings.ToLower(header), path: slices.Clone(path), pointer: at})
	return nil
}

// isToken reports whether s is an RFC 9110 token (1*tchar).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// paramHeaders reports each declared header with the value args require.
func (t *toolEntry) paramHeaders(args map[string]any) []ParamHeader {
	if len(t.headers) == 0 {
		return nil
	}
	out := make([]ParamHeader, 0, len(t.headers))
	for _, b := range t.headers {
		p := ParamHeader{Name: b.header, Pointer: b.pointer}
		if v, ok := lookupArg(args, b.path); ok && v != nil {
			p.Present = true
			p.Value, _ = headerForm(v)
		}
		out = append(out, p)
	}
	return out
}

// CheckParamHeaders checks the Mcp-Param-* headers of a tools/call against
// its arguments (call it for protocol revision 2026-07-28 and later). For
// every x-mcp-header the approved schema declares: an argument that is
// present and not null needs exactly one header whose value, after
// =?base64?...?= decoding, equals the argument (strings exactly, integers
// numerically, booleans as true/false); an absent or null argument needs
// the header absent. header returns the values of a header given its
// lower-cased name. Failures wrap ErrParamHeader and name the header and the
// argument's JSON pointer, never a value. Unknown or unapproved tools
// declare nothing and pass.
func (r *Registry) CheckParamHeaders(server, tool string, args map[string]any, header func(name string) []string) error {
	t := r.tool(server, tool)
	if t == nil || t.hash == "" {
		return nil
	}
	var errs []error
	for _, b := range t.headers {
		if err := b.check(args, header(b.lower)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *headerBinding) check(args map[string]any, values []string) error {
	v, present := lookupArg(args, b.path)
	present = present && v != nil
	switch {
	case !present && len(values) == 0:
		return nil
	case !present:
		return fmt.Errorf("%w: %s sent but argument %s is absent", ErrParamHeader, b.header, b.pointer)
	case len(values) == 0:
		return fmt.Errorf("%w: %s missing for argument %s", ErrParamHeader, b.header, b.pointer)
	case len(values) > 1:
		return fmt.Errorf("%w: %s repeated", ErrParamHeader, b.header)
	}
	got, ok := mcp.DecodeHeaderValue(values[0])
	if !ok {
		return fmt.Errorf("%w: %s is not valid =?base64?...?=", ErrParamHeader, b.header)
	}
	if !headerMatches(got, v) {
		return fmt.Errorf("%w: %s differs from argument %s", ErrParamHeader, b.header, b.pointer)
	}
	return nil
}

func lookupArg(args map[string]any, path []string) (any, bool) {
	var cur any = args
	for _, name := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[name]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// headerForm renders an argument as its header value: a string as is, a
// boolean as true/false, a safe integer in decimal.
func headerForm(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	}
	if n, ok := safeInteger(v); ok {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

func headerMatches(h string, v any) bool {
	if _, isNum := v.(json.Number); isNum || isGoNumber(v) {
		want, ok := safeInteger(v)
		got, okH := safeInteger(json.Number(h))
		return ok && okH && isJSONNumber(h) && got == want
	}
	want, ok := headerForm(v)
	return ok && h == want
}

// isJSONNumber reports whether s is exactly one JSON number (no hex, no
// underscores, no spaces: what strconv.ParseFloat alone would also accept).
func isJSONNumber(s string) bool {
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Valid([]byte(s))
}

func isGoNumber(v any) bool {
	switch v.(type) {
	case float64, float32, int, int64, int32:
		return true
	}
	return false
}

// safeInteger returns v as an integer when it is a whole number within
// ±(2^53-1).
func safeInteger(v any) (int64, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, false
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > maxSafeInteger {
		return 0, false
	}
	return int64(f), true
}
