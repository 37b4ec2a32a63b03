package policy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The builder below turns an Input into the ast.Value OPA evaluates, field
// by field, without a JSON round trip or reflection. It reproduces the JSON
// form exactly (encoding/json with the struct tags, omitempty included); a
// test compares it with ast.InterfaceToValue of json.Marshal(in).

// Object keys, built once and shared by every input.
var (
	kHTTP, kMCP, kPrincipal, kWorkload = key("http"), key("mcp"), key("principal"), key("workload")
	kResource, kTool, kRequest         = key("resource"), key("tool"), key("request")
	kMethod, kPath, kHost, kScheme     = key("method"), key("path"), key("host"), key("scheme")
	kHeaders, kRevision, kKind         = key("headers"), key("revision"), key("kind")
	kKnownMethod, kID, kName           = key("known_method"), key("id"), key("name")
	kArguments, kSessionID, kSub, kIss = key("arguments"), key("session_id"), key("sub"), key("iss")
	kAud, kScopes, kRoles, kClientID   = key("aud"), key("scopes"), key("roles"), key("client_id")
	kTokenType, kClaims, kURISANs      = key("token_type"), key("claims"), key("uri_sans")
	kServer, kRegistered, kApproved    = key("server"), key("registered"), key("approved")
	kDrifted, kArgsValid, kArgsError   = key("drifted"), key("arguments_valid"), key("arguments_error")
	kTime, kDriftReason, kAnnotations  = key("time"), key("drift_reason"), key("annotations")
	kAct, kMayAct                      = key("act"), key("may_act")
	kRolesError                        = key("roles_error")
	nullTerm                           = ast.NullTerm()
)

// key returns a term for an object key, shared by every input built.
func key(s string) *ast.Term { return ast.InternedTerm(s) }

// inputValue returns in as an ast.Object equal to its JSON form.
func inputValue(in *Input) ast.Value {
	obj := ast.NewObjectWithCapacity(7)
	obj.Insert(kHTTP, ast.NewTerm(httpValue(&in.HTTP)))
	obj.Insert(kMCP, ast.NewTerm(mcpValue(&in.MCP)))
	obj.Insert(kPrincipal, ast.NewTerm(principalValue(&in.Principal)))
	obj.Insert(kWorkload, ast.NewTerm(workloadValue(&in.Workload)))
	obj.Insert(kResource, ast.NewTerm(resourceValue(&in.Resource)))
	if in.Tool != nil {
		obj.Insert(kTool, ast.NewTerm(toolValue(in.Tool)))
	}
	if in.List != nil {
		obj.Insert(key("list"), ast.NewTerm(listValue(in.List)))
	}
	if in.Output != nil {
		obj.Insert(key("output"), ast.NewTerm(outputValue(in.Output)))
	}
	obj.Insert(kRequest, ast.NewTerm(requestValue(&in.Request)))
	if in.Connections != nil {
		obj.Insert(key("connections"), ast.NewTerm(connectionsValue(in.Connections)))
	}
	return obj
}

// connectionsValue builds input.connections (only on calls connections
// apply to, so it favours brevity over speed).
func connectionsValue(cs map[string]Connection) ast.Value {
	obj := ast.NewObjectWithCapacity(len(cs))
	for name, c := range cs {
		v := ast.NewObjectWithCapacity(3)
		v.Insert(key("connected"), ast.BooleanTerm(c.Connected))
		v.Insert(key("scopes"), stringsTerm(c.Scopes))
		optString(v, key("expires_at"), c.ExpiresAt)
		obj.Insert(str(name), ast.NewTerm(v))
	}
	return obj
}

// listValue and outputValue build the response processor's fields; they
// are not on the Check path, so they favour brevity over speed.
func listValue(l *List) ast.Value {
	obj := ast.NewObjectWithCapacity(3)
	obj.Insert(kMethod, str(l.Method))
	if len(l.Tools) > 0 {
		tools := ast.NewObjectWithCapacity(len(l.Tools))
		for name, t := range l.Tools {
			tools.Insert(ast.StringTerm(name), ast.NewTerm(toolValue(&t)))
		}
		obj.Insert(key("tools"), ast.NewTerm(tools))
	}
	if len(l.Names) > 0 {
		obj.Insert(key("names"), stringsTerm(l.Names))
	}
	return obj
}

func outputValue(o *Output) ast.Value {
	obj := ast.NewObjectWithCapacity(2)
	obj.Insert(kTool, str(o.Tool))
	obj.Insert(key("result"), ast.NewTerm(mapValue(o.Result)))
	return obj
}

func httpValue(h *HTTP) ast.Value {
	obj := ast.NewObjectWithCapacity(5)
	obj.Insert(kMethod, str(h.Method))
	obj.Insert(kPath, str(h.Path))
	obj.Insert(kHost, str(h.Host))
	obj.Insert(kScheme, str(h.Scheme))
	obj.Insert(kHeaders, stringMapTerm(h.Headers))
	return obj
}

func mcpValue(m *MCP) ast.Value {
	obj := ast.NewObjectWithCapacity(9)
	obj.Insert(kRevision, str(m.Revision))
	obj.Insert(kKind, str(m.Kind))
	obj.Insert(kMethod, str(m.Method))
	obj.Insert(kKnownMethod, ast.InternedTerm(m.KnownMethod))
	if len(m.ID) > 0 {
		obj.Insert(kID, rawTerm(m.ID))
	}
	optString(obj, kName, m.Name)
	optString(obj, kTool, m.Tool)
	if len(m.Arguments) > 0 {
		obj.Insert(kArguments, ast.NewTerm(mapValue(m.Arguments)))
	}
	optString(obj, kSessionID, m.SessionID)
	return obj
}

func principalValue(p *Principal) ast.Value {
	obj := ast.NewObjectWithCapacity(11)
	obj.Insert(kSub, str(p.Subject))
	obj.Insert(kIss, str(p.Issuer))
	obj.Insert(kAud, stringsTerm(p.Audience))
	obj.Insert(kScopes, stringsTerm(p.Scopes))
	obj.Insert(kRoles, stringsTerm(p.Roles))
	optString(obj, kRolesError, p.RolesError)
	optString(obj, kClientID, p.ClientID)
	obj.Insert(kTokenType, str(p.TokenType))
	if p.Claims == nil {
		obj.Insert(kClaims, nullTerm)
	} else {
		obj.Insert(kClaims, ast.NewTerm(mapValue(p.Claims)))
	}
	obj.Insert(kAct, actorsTerm(p.Act))
	if p.MayAct != nil {
		obj.Insert(kMayAct, ast.NewTerm(actorValue(p.MayAct)))
	}
	return obj
}

// actorsTerm mirrors encoding/json: a nil chain is null.
func actorsTerm(as []Actor) *ast.Term {
	if as == nil {
		return nullTerm
	}
	terms := make([]*ast.Term, len(as))
	for i := range as {
		terms[i] = ast.NewTerm(actorValue(&as[i]))
	}
	return ast.ArrayTerm(terms...)
}

func actorValue(a *Actor) ast.Value {
	obj := ast.NewObjectWithCapacity(3)
	obj.Insert(kSub, str(a.Subject))
	optString(obj, kIss, a.Issuer)
	optString(obj, kClientID, a.ClientID)
	return obj
}

func workloadValue(w *Workload) ast.Value {
	obj := ast.NewObjectWithCapacity(2)
	optString(obj, kPrincipal, w.Principal)
	if len(w.URISANs) > 0 {
		obj.Insert(kURISANs, stringsTerm(w.URISANs))
	}
	return obj
}

func resourceValue(r *Resource) ast.Value {
	obj := ast.NewObjectWithCapacity(2)
	obj.Insert(kID, str(r.ID))
	optString(obj, kServer, r.Server)
	return obj
}

func toolValue(t *Tool) ast.Value {
	obj := ast.NewObjectWithCapacity(6)
	obj.Insert(kID, str(t.ID))
	obj.Insert(kRegistered, ast.InternedTerm(t.Registered))
	obj.Insert(kApproved, ast.InternedTerm(t.Approved))
	obj.Insert(kDrifted, ast.InternedTerm(t.Drifted))
	obj.Insert(kArgsValid, ast.InternedTerm(t.ArgumentsValid))
	optString(obj, kArgsError, t.ArgumentsError)
	optString(obj, kDriftReason, t.DriftReason)
	if len(t.Annotations) > 0 {
		hints := ast.NewObjectWithCapacity(len(t.Annotations))
		for k, v := range t.Annotations {
			hints.Insert(key(k), ast.InternedTerm(v))
		}
		obj.Insert(kAnnotations, ast.NewTerm(hints))
	}
	return obj
}

func requestValue(r *Request) ast.Value {
	obj := ast.NewObjectWithCapacity(2)
	optString(obj, kID, r.ID)
	obj.Insert(kTime, str(r.Time))
	return obj
}

// str returns a string term, interned when OPA already holds one.
func str(s string) *ast.Term { return ast.InternedTerm(s) }

// optString inserts k: s unless s is empty (omitempty).
func optString(obj ast.Object, k *ast.Term, s string) {
	if s != "" {
		obj.Insert(k, str(s))
	}
}

// stringsTerm mirrors encoding/json: a nil slice is null.
func stringsTerm(ss []string) *ast.Term {
	if ss == nil {
		return nullTerm
	}
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = str(s)
	}
	return ast.ArrayTerm(terms...)
}

// stringMapTerm mirrors encoding/json: a nil map is null.
func stringMapTerm(m map[string]string) *ast.Term {
	if m == nil {
		return nullTerm
	}
	obj := ast.NewObjectWithCapacity(len(m))
	for k, v := range m {
		obj.Insert(str(k), str(v))
	}
	return ast.NewTerm(obj)
}

// rawTerm converts a JSON-RPC id (a number or a string, byte-exact JSON);
// encoding/json compacts a RawMessage, so surrounding space is dropped.
func rawTerm(raw json.RawMessage) *ast.Term {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 1 && raw[0] == '"' && isPlainJSONString(raw) {
		return str(string(raw[1 : len(raw)-1]))
	}
	if isJSONNumber(string(raw)) {
		return ast.NewTerm(numberValue(json.Number(raw)))
	}
	return ast.NewTerm(slowValue(raw))
}

// isPlainJSONString reports whether raw is a quoted JSON string without
// escapes, control or non-ASCII bytes: its content is the string itself.
func isPlainJSONString(raw json.RawMessage) bool {
	if raw[len(raw)-1] != '"' {
		return false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether s is a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	switch {
	case s == "":
		return false
	case s[0] == '0':
		s = s[1:]
	case s[0] >= '1' && s[0] <= '9':
		s = strings.TrimLeft(s, "0123456789")
	default:
		return false
	}
	if rest, ok := strings.CutPrefix(s, "."); ok {
		if s = strings.TrimLeft(rest, "0123456789"); len(s) == len(rest) {
			return false
		}
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		rest := strings.TrimLeft(s[1:], "+-")
		if len(s[1:])-len(rest) > 1 {
			return false
		}
		if s = strings.TrimLeft(rest, "0123456789"); len(s) == len(rest) {
			return false
		}
	}
	return s == ""
}

// mapValue converts a JSON-decoded object.
func mapValue(m map[string]any) ast.Value {
	obj := ast.NewObjectWithCapacity(len(m))
	for k, v := range m {
		obj.Insert(str(k), ast.NewTerm(anyValue(v)))
	}
	return obj
}

// anyValue converts the types encoding/json (with or without UseNumber)
// produces, plus []string and map[string]string; anything else (a claim a
// JWT library typed, such as time.Time) takes the JSON path so the result
// still equals the JSON form.
func anyValue(v any) ast.Value {
	switch x := v.(type) {
	case nil:
		return ast.NullValue
	case bool:
		return ast.InternedTerm(x).Value
	case string:
		return str(x).Value
	case json.Number:
		return numberValue(x)
	case float64:
		return ast.FloatNumberTerm(x).Value
	case int:
		return ast.InternedTerm(x).Value
	case int64:
		return ast.Number(strconv.FormatInt(x, 10))
	case []any:
		terms := make([]*ast.Term, len(x))
		for i, e := range x {
			terms[i] = ast.NewTerm(anyValue(e))
		}
		return ast.NewArray(terms...)
	case []string:
		return stringsTerm(x).Value
	case map[string]any:
		if x == nil {
			return ast.NullValue
		}
		return mapValue(x)
	case map[string]string:
		return stringMapTerm(x).Value
	case time.Time:
		return timeValue(x)
	}
	return slowValue(v)
}

// numberValue keeps the number's text, as ast.InterfaceToValue does; an
// invalid one (which encoding/json refuses to write) becomes null.
func numberValue(n json.Number) ast.Value {
	if !isJSONNumber(string(n)) {
		return ast.NullValue
	}
	if v, err := ast.NumberChecked(string(n)); err == nil {
		return v
	}
	return ast.NullValue
}

// timeValue mirrors time.Time's MarshalJSON (RFC 3339 with nanoseconds).
func timeValue(t time.Time) ast.Value {
	b, err := t.MarshalJSON()
	if err != nil {
		return ast.NullValue
	}
	return ast.String(b[1 : len(b)-1])
}

// slowValue is the fallback for types the fast path does not know: the
// JSON form through OPA's converter. A value JSON cannot encode is null,
// as it has no JSON form to match.
func slowValue(v any) ast.Value {
	if raw, ok := v.(json.RawMessage); ok {
		var x any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&x) != nil {
			return ast.NullValue
		}
		return anyValue(x)
	}
	val, err := ast.InterfaceToValue(v)
	if err != nil {
		return ast.NullValue
	}
	return val
}
