package policy

import (
	"encoding/json"
	"math"
	"time"
)

// recipe reads choices from fuzz bytes (zero once they run out).
type recipe struct {
	b []byte
}

// n returns a choice in [0, k).
func (r *recipe) n(k int) int {
	if len(r.b) == 0 {
		return 0
	}
	c := int(r.b[0])
	r.b = r.b[1:]
	return c % k
}

// pick returns one of xs.
func (r *recipe) pick(xs ...string) string { return xs[r.n(len(xs))] }

// strs returns nil, empty, or a few of xs.
func (r *recipe) strs(xs ...string) []string {
	switch r.n(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := []string{}
	for range 1 + r.n(3) {
		out = append(out, r.pick(xs...))
	}
	return out
}

// fuzzKeys are member names: plain, unicode, empty, numeric-looking.
var fuzzKeys = []string{"a", "b", "repo", "tenant", "o", "k", "l", "ключ", "", "1", "roles", "t"}

// value returns a JSON-decoded Go value, or one of the other types
// claims and arguments can hold.
func (r *recipe) value(depth int) any {
	switch r.n(16) {
	case 0:
		return nil
	case 1:
		return r.n(2) == 0
	case 2, 3:
		return r.pick("x", "", "é", "acme/api", "1")
	case 4:
		return json.Number(r.pick("1", "1.0", "1e2", "100", "-0", "0", "x", "1e999", "12345678901234567890"))
	case 5:
		return []float64{1, 1.5, 100, math.Copysign(0, -1), 1e21}[r.n(5)]
	case 6:
		return []any{1, int64(1), int64(-7)}[r.n(3)]
	case 7:
		return r.strs("a", "b")
	case 8:
		return map[string]string{r.pick(fuzzKeys...): r.pick("v", "")}
	case 9:
		return time.Unix(int64(r.n(3)), 0).UTC()
	case 10, 11:
		if depth < 4 {
			out := []any{}
			for range r.n(3) {
				out = append(out, r.value(depth+1))
			}
			return out
		}
	}
	if depth >= 4 {
		return "deep"
	}
	return r.object(depth + 1)
}

// object returns nil, an empty map or a few members.
func (r *recipe) object(depth int) map[string]any {
	switch r.n(5) {
	case 0:
		return nil
	case 1:
		return map[string]any{}
	}
	out := map[string]any{}
	for range 1 + r.n(3) {
		out[r.pick(fuzzKeys...)] = r.value(depth)
	}
	return out
}

// fuzzInput builds an input from b.
func fuzzInput(b []byte) *Input {
	r := &recipe{b: b}
	in := &Input{
		HTTP: HTTP{Method: r.pick("POST", "GET", "DELETE"), Path: r.pick("/mcp", "/x"), Host: "mcp.example.test",
			Scheme: r.pick("https", "http")},
		MCP: MCP{Revision: r.pick("2025-06-18", "2025-11-25", "2026-07-28"), Kind: r.pick("request", "notification", "none", "response"),
			Method: r.pick(genMethods...), KnownMethod: r.n(2) == 0},
		Resource: Resource{ID: r.pick("https://mcp.example.test/mcp", "https://elsewhere.test/mcp"), Server: r.pick("", "", "issues")},
		Request:  Request{ID: r.pick("", "req"), Time: "2026-03-01T12:00:00Z"},
	}
	if h := r.object(3); h != nil || r.n(2) == 0 {
		in.HTTP.Headers = map[string]string{}
		for k := range h {
			in.HTTP.Headers[k] = r.pick("v", "", "application/json")
		}
	}
	fuzzMCP(r, &in.MCP)
	fuzzPrincipal(r, &in.Principal)
	fuzzRest(r, in)
	return in
}

// fuzzMCP fills the message's optional members.
func fuzzMCP(r *recipe, m *MCP) {
	if id := r.pick("", "1", " 1.0 ", `"1"`, `"\u00e9"`, `"id-1"`); id != "" {
		m.ID = json.RawMessage(id)
	}
	m.Tool = r.pick(append([]string{""}, genTools...)...)
	m.Name = r.pick(m.Tool, "", "n")
	m.SessionID = r.pick("", "s")
	switch r.n(4) {
	case 0:
	case 1:
		m.Arguments = map[string]any{}
	case 2:
		m.Arguments = validArgs[m.Tool]
	default:
		m.Arguments = r.object(1)
	}
}

// fuzzPrincipal fills the caller.
func fuzzPrincipal(r *recipe, p *Principal) {
	p.Subject, p.Issuer = r.pick("alice", "bob", ""), r.pick("https://auth.example.test", "https://other.test")
	p.Audience = r.strs("https://mcp.example.test/mcp", "https://other.example.test/mcp")
	p.Scopes = r.strs("mcp:tools", "mcp:read", "mcp:admin")
	p.Roles = r.strs(genRoles...)
	p.RolesError, p.ClientID = r.pick("", "invalid_roles_claim"), r.pick("", "cli")
	p.TokenType = r.pick("Bearer", "DPoP")
	p.Claims = r.object(1)
	switch r.n(4) {
	case 1:
		p.Act = []Actor{}
	case 2:
		p.Act = []Actor{{Subject: r.pick("agent-1", ""), Issuer: r.pick("", "i"), ClientID: r.pick("", "c")}}
	}
	if r.n(3) == 0 {
		p.MayAct = &Actor{Subject: r.pick("agent-1", ""), Issuer: r.pick("", "i")}
	}
}

// fuzzRest fills the workload and the rarer members.
func fuzzRest(r *recipe, in *Input) {
	in.Workload = Workload{Principal: r.pick("", "spiffe://x"), URISANs: r.strs("spiffe://x", "spiffe://y")}
	if r.n(3) == 0 {
		in.Tool = &Tool{ID: r.pick("", "issues/x"), Registered: r.n(2) == 0, Approved: r.n(2) == 0,
			DriftReason: r.pick("", "changed"), ArgumentsError: r.pick("", "/a")}
		if r.n(2) == 0 {
			in.Tool.Annotations = map[string]bool{r.pick("readOnlyHint", "x"): r.n(2) == 0}
		}
	}
	switch r.n(6) {
	case 1:
		in.Connections = map[string]Connection{}
	case 2:
		in.Connections = map[string]Connection{"github": {Connected: r.n(2) == 0, Scopes: r.strs("repo")}}
	case 3:
		in.List = &List{Method: "tools/list", Tools: map[string]Tool{"t": {Approved: r.n(2) == 0}}, Names: r.strs("p")}
	case 4:
		in.Output = &Output{Tool: "issues/x", Result: r.object(1)}
	}
}
