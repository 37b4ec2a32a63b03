package policy

import (
	"encoding/binary"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The input document's structs as inputValue (value.go) builds them, for
// the decision cache's key walk: members sorted by name, each present
// exactly when inputValue writes it. A member added to Input must be added
// here too; TestMemoKeyMatchesProjection fails until it is.

var inputDoc = docObject[Input]{
	astField("connections", func(x *Input) bool { return x.Connections != nil },
		func(x *Input) ast.Value { return connectionsValue(x.Connections) }),
	objField("http", httpDoc, nil, func(x *Input) *HTTP { return &x.HTTP }),
	astField("list", func(x *Input) bool { return x.List != nil }, func(x *Input) ast.Value { return listValue(x.List) }),
	objField("mcp", mcpDoc, nil, func(x *Input) *MCP { return &x.MCP }),
	astField("output", func(x *Input) bool { return x.Output != nil }, func(x *Input) ast.Value { return outputValue(x.Output) }),
	objField("principal", principalDoc, nil, func(x *Input) *Principal { return &x.Principal }),
	objField("request", requestDoc, nil, func(x *Input) *Request { return &x.Request }),
	objField("resource", resourceDoc, nil, func(x *Input) *Resource { return &x.Resource }),
	objField("tool", toolDoc, func(x *Input) bool { return x.Tool != nil }, func(x *Input) *Tool { return x.Tool }),
	objField("workload", workloadDoc, nil, func(x *Input) *Workload { return &x.Workload }),
}

var httpDoc = docObject[HTTP]{
	goField("headers", nil, func(x *HTTP) any { return x.Headers }),
	strField("host", false, func(x *HTTP) string { return x.Host }),
	strField("method", false, func(x *HTTP) string { return x.Method }),
	strField("path", false, func(x *HTTP) string { return x.Path }),
	strField("scheme", false, func(x *HTTP) string { return x.Scheme }),
}

var mcpDoc = docObject[MCP]{
	goField("arguments", func(x *MCP) bool { return len(x.Arguments) > 0 }, func(x *MCP) any { return x.Arguments }),
	astField("id", func(x *MCP) bool { return len(x.ID) > 0 }, func(x *MCP) ast.Value { return rawTerm(x.ID).Value }),
	strField("kind", false, func(x *MCP) string { return x.Kind }),
	boolField("known_method", func(x *MCP) bool { return x.KnownMethod }),
	strField("method", false, func(x *MCP) string { return x.Method }),
	strField("name", true, func(x *MCP) string { return x.Name }),
	strField("revision", false, func(x *MCP) string { return x.Revision }),
	strField("session_id", true, func(x *MCP) string { return x.SessionID }),
	strField("tool", true, func(x *MCP) string { return x.Tool }),
}

var principalDoc = docObject[Principal]{
	{name: "act", enc: func(b []byte, x *Principal) ([]byte, bool) { return encActors(b, x.Act) }},
	stringsField("aud", nil, func(x *Principal) []string { return x.Audience }),
	goField("claims", nil, func(x *Principal) any { return x.Claims }),
	strField("client_id", true, func(x *Principal) string { return x.ClientID }),
	strField("iss", false, func(x *Principal) string { return x.Issuer }),
	objField("may_act", actorDoc, func(x *Principal) bool { return x.MayAct != nil }, func(x *Principal) *Actor { return x.MayAct }),
	stringsField("roles", nil, func(x *Principal) []string { return x.Roles }),
	strField("roles_error", true, func(x *Principal) string { return x.RolesError }),
	stringsField("scopes", nil, func(x *Principal) []string { return x.Scopes }),
	strField("sub", false, func(x *Principal) string { return x.Subject }),
	strField("token_type", false, func(x *Principal) string { return x.TokenType }),
}

var actorDoc = docObject[Actor]{
	strField("client_id", true, func(x *Actor) string { return x.ClientID }),
	strField("iss", true, func(x *Actor) string { return x.Issuer }),
	strField("sub", false, func(x *Actor) string { return x.Subject }),
}

var workloadDoc = docObject[Workload]{
	strField("principal", true, func(x *Workload) string { return x.Principal }),
	stringsField("uri_sans", func(x *Workload) bool { return len(x.URISANs) > 0 }, func(x *Workload) []string { return x.URISANs }),
}

var resourceDoc = docObject[Resource]{
	strField("id", false, func(x *Resource) string { return x.ID }),
	strField("server", true, func(x *Resource) string { return x.Server }),
}

var toolDoc = docObject[Tool]{
	goField("annotations", func(x *Tool) bool { return len(x.Annotations) > 0 }, func(x *Tool) any { return x.Annotations }),
	boolField("approved", func(x *Tool) bool { return x.Approved }),
	strField("arguments_error", true, func(x *Tool) string { return x.ArgumentsError }),
	boolField("arguments_valid", func(x *Tool) bool { return x.ArgumentsValid }),
	strField("drift_reason", true, func(x *Tool) string { return x.DriftReason }),
	boolField("drifted", func(x *Tool) bool { return x.Drifted }),
	strField("id", false, func(x *Tool) string { return x.ID }),
	boolField("registered", func(x *Tool) bool { return x.Registered }),
}

var requestDoc = docObject[Request]{
	strField("id", true, func(x *Request) string { return x.ID }),
	strField("time", false, func(x *Request) string { return x.Time }),
}

// encActors appends actorsTerm(as): null when nil, else a list of actors.
func encActors(buf []byte, as []Actor) ([]byte, bool) {
	if as == nil {
		return append(buf, 'n'), true
	}
	buf = binary.AppendUvarint(append(buf, 'a'), uint64(len(as)))
	for i := range as {
		var ok bool
		if buf, ok = actorDoc.enc(buf, &as[i]); !ok {
			return buf, false
		}
	}
	return buf, true
}
