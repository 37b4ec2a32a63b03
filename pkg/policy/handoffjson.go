package policy

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/mcp-authz/mcp-authz/pkg/jsonesc"
)

// The handoff is encoded on every allow. encoding/json reaches each field
// and claim through reflection and a sorted copy of every map's keys; the
// writer below appends the same bytes directly: the same member order and
// omitempty rules as Input's json tags, map keys sorted, strings escaped as
// encoding/json escapes them (HTML characters, U+2028 and U+2029, invalid
// UTF-8 as U+FFFD), numbers as encoding/json formats them. Anything it does
// not know (a value type outside the JSON data model) goes through
// encoding/json itself. TestHandoffEncodeDifferential and
// FuzzHandoffEncode hold it byte-identical to json.Marshal.

// errUnsupportedValue is a NaN or an infinity, which JSON cannot hold.
var errUnsupportedValue = errors.New("unsupported value: NaN or infinity")

// appendHandoff writes h as json.Marshal would. It does not know Tool,
// List or Output (HandoffOf clears them); the caller marshals a handoff
// with any of them by reflection.
func appendHandoff(b []byte, h *Handoff) ([]byte, error) {
	b = append(b, `{"input":`...)
	b, err := appendHandoffInput(b, &h.Input)
	if err != nil {
		return b, err
	}
	if len(h.Injected) > 0 {
		b = append(b, `,"injected":`...)
		b = appendStringMap(b, h.Injected)
	}
	return append(b, '}'), nil
}

func appendHandoffInput(b []byte, in *Input) ([]byte, error) {
	b = appendHTTP(append(b, `{"http":`...), &in.HTTP)
	b, err := appendMCP(append(b, `,"mcp":`...), &in.MCP)
	if err != nil {
		return b, err
	}
	if b, err = appendPrincipal(append(b, `,"principal":`...), &in.Principal); err != nil {
		return b, err
	}
	b = append(b, `,"workload":{`...)
	w := &in.Workload
	sep := byte(0)
	if w.Principal != "" {
		b = appendString(append(b, `"principal":`...), w.Principal)
		sep = ','
	}
	if len(w.URISANs) > 0 {
		b = appendStrings(appendSep(b, sep, `"uri_sans":`), w.URISANs)
	}
	b = appendString(append(b, `},"resource":{"id":`...), in.Resource.ID)
	if in.Resource.Server != "" {
		b = appendString(append(b, `,"server":`...), in.Resource.Server)
	}
	b = append(b, `},"request":{`...)
	if in.Request.ID != "" {
		b = append(appendString(append(b, `"id":`...), in.Request.ID), ',')
	}
	b = append(appendString(append(b, `"time":`...), in.Request.Time), '}')
	if len(in.Connections) > 0 {
		b = appendConnections(append(b, `,"connections":`...), in.Connections)
	}
	return append(b, '}'), nil
}

// appendSep writes sep (when not 0) and then member.
func appendSep(b []byte, sep byte, member string) []byte {
	if sep != 0 {
		b = append(b, sep)
	}
	return append(b, member...)
}

func appendHTTP(b []byte, h *HTTP) []byte {
	b = appendString(append(b, `{"method":`...), h.Method)
	b = appendString(append(b, `,"path":`...), h.Path)
	b = appendString(append(b, `,"host":`...), h.Host)
	b = appendString(append(b, `,"scheme":`...), h.Scheme)
	b = appendStringMap(append(b, `,"headers":`...), h.Headers)
	return append(b, '}')
}

func appendMCP(b []byte, m *MCP) ([]byte, error) {
	b = appendString(append(b, `{"revision":`...), m.Revision)
	b = appendString(append(b, `,"kind":`...), m.Kind)
	b = appendString(append(b, `,"method":`...), m.Method)
	b = strconv.AppendBool(append(b, `,"known_method":`...), m.KnownMethod)
	var err error
	if len(m.ID) > 0 {
		if b, err = appendRaw(append(b, `,"id":`...), m.ID); err != nil {
			return b, err
		}
	}
	if m.Name != "" {
		b = appendString(append(b, `,"name":`...), m.Name)
	}
	if m.Tool != "" {
		b = appendString(append(b, `,"tool":`...), m.Tool)
	}
	if len(m.Arguments) > 0 {
		if b, err = appendObject(append(b, `,"arguments":`...), m.Arguments); err != nil {
			return b, err
		}
	}
	if m.SessionID != "" {
		b = appendString(append(b, `,"session_id":`...), m.SessionID)
	}
	return append(b, '}'), nil
}

func appendPrincipal(b []byte, p *Principal) ([]byte, error) {
	b = appendString(append(b, `{"sub":`...), p.Subject)
	b = appendString(append(b, `,"iss":`...), p.Issuer)
	b = appendStrings(append(b, `,"aud":`...), p.Audience)
	b = appendStrings(append(b, `,"scopes":`...), p.Scopes)
	b = appendStrings(append(b, `,"roles":`...), p.Roles)
	if p.RolesError != "" {
		b = appendString(append(b, `,"roles_error":`...), p.RolesError)
	}
	if p.ClientID != "" {
		b = appendString(append(b, `,"client_id":`...), p.ClientID)
	}
	b = appendString(append(b, `,"token_type":`...), p.TokenType)
	b, err := appendObject(append(b, `,"claims":`...), p.Claims)
	if err != nil {
		return b, err
	}
	b = append(b, `,"act":`...)
	if p.Act == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Act {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendActor(b, &p.Act[i])
		}
		b = append(b, ']')
	}
	if p.MayAct != nil {
		b = appendActor(append(b, `,"may_act":`...), p.MayAct)
	}
	return append(b, '}'), nil
}

func appendActor(b []byte, a *Actor) []byte {
	b = appendString(append(b, `{"sub":`...), a.Subject)
	if a.Issuer != "" {
		b = appendString(append(b, `,"iss":`...), a.Issuer)
	}
	if a.ClientID != "" {
		b = appendString(append(b, `,"client_id":`...), a.ClientID)
	}
	return append(b, '}')
}

func appendConnections(b []byte, m map[string]Connection) []byte {
	b = append(b, '{')
	var stack [keysOnStack]string
	for i, k := range sortedKeys(stack[:], m) {
		if i > 0 {
			b = append(b, ',')
		}
		c := m[k]
		b = appendString(b, k)
		b = strconv.AppendBool(append(b, `:{"connected":`...), c.Connected)
		b = appendStrings(append(b, `,"scopes":`...), c.Scopes)
		if c.ExpiresAt != "" {
			b = appendString(append(b, `,"expires_at":`...), c.ExpiresAt)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// sortedKeys returns m's keys in the order encoding/json writes them,
// in dst when it has room (callers pass a small array on their stack).
func sortedKeys[V any](dst []string, m map[string]V) []string {
	keys := dst[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keysOnStack is how many map keys are sorted without an allocation.
const keysOnStack = 16

func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	var stack [keysOnStack]string
	for i, k := range sortedKeys(stack[:], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(appendString(b, k), ':'), m[k])
	}
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendObject writes a JSON object decoded into Go (claims, arguments).
func appendObject(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	var err error
	var stack [keysOnStack]string
	for i, k := range sortedKeys(stack[:], m) {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendAny(append(appendString(b, k), ':'), m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendAny writes one value of the JSON data model; any other type goes
// through encoding/json.
func appendAny(b []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, t), nil
	case bool:
		return strconv.AppendBool(b, t), nil
	case json.Number:
		return appendNumber(b, t)
	case float64:
		return appendFloat(b, t)
	case map[string]any:
		return appendObject(b, t)
	case []any:
		return appendArray(b, t)
	case []string:
		return appendStrings(b, t), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

func appendArray(b []byte, vs []any) ([]byte, error) {
	if vs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	var err error
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendAny(b, v); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendFloat formats f as encoding/json does: the shortest form, in
// exponent notation below 1e-6 and from 1e21, with e-07 written e-7.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errUnsupportedValue
	}
	return jsonesc.AppendFloat(b, f), nil
}

// appendNumber writes a json.Number verbatim once it is a valid JSON
// number ("" is written 0, as encoding/json does).
func appendNumber(b []byte, n json.Number) ([]byte, error) {
	if n == "" {
		return append(b, '0'), nil
	}
	if !isJSONNumber(string(n)) {
		return b, errors.New("json: invalid number literal " + strconv.Quote(string(n)))
	}
	return append(b, n...), nil
}

// appendRaw writes a json.RawMessage as encoding/json does: compacted,
// HTML characters escaped, an error when it is not JSON. A request id is
// a number or a plain string, written as it is.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if plainJSON(raw) {
		return append(b, raw...), nil
	}
	enc, err := json.Marshal(raw)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// plainJSON reports whether raw is valid JSON that compacting and HTML
// escaping leave unchanged: no whitespace, no <, > or &, only ASCII.
func plainJSON(raw []byte) bool {
	for _, c := range raw {
		if c <= ' ' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return json.Valid(raw)
}

// appendString writes s as a JSON string the way encoding/json does with
// HTML escaping on.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if htmlSafe(c) {
				i++
				continue
			}
			b = jsonesc.AppendByte(append(b, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', jsonesc.Hex(byte(r)))
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// htmlSafe reports whether an ASCII byte goes into a JSON string as is.
func htmlSafe(c byte) bool {
	return c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}
