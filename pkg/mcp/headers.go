package mcp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Headers gives access to request headers by lower-case name, with every
// value of a repeated header visible.
type Headers interface {
	// Values returns all values of the header name (lower case), in order.
	Values(name string) []string
}

// Routing headers of the 2026-07-28 Streamable HTTP transport, lower case.
const (
	HeaderProtocolVersion = "mcp-protocol-version"
	HeaderMethod          = "mcp-method"
	HeaderName            = "mcp-name"
)

// The Base64 sentinel form of an Mcp-Name value: =?base64?<std base64>?=.
const (
	b64Prefix = "=?base64?"
	b64Suffix = "?="
)

// CheckHeaders enforces, for revision 2026-07-28, that the routing headers
// say what the body says, so an intermediary routing on headers and the
// server executing the body agree. It returns nil for older revisions (they
// define no such headers). Otherwise it fails with an *Error of
// CodeHeaderMismatch (carrying msg.ID) when:
//
//   - MCP-Protocol-Version is missing, repeated, not rev, or differs from
//     params._meta["io.modelcontextprotocol/protocolVersion"] (required on
//     requests, compared on notifications when present);
//   - Mcp-Method is missing on a request, repeated, or differs from method;
//     on a notification it is optional but must match; a response must not
//     carry it;
//   - Mcp-Name is missing on a tools/call, prompts/get or resources/read
//     request, repeated, or differs from params.name or params.uri after
//     decoding the =?base64?...?= form; any other message must not carry it
//     (the body has no value it could mirror);
//   - any of these values contains characters outside visible ASCII, space
//     and tab, or is a malformed Base64 sentinel.
//
// Mcp-Param-{Name} headers need the tool's inputSchema and are not checked
// here.
func CheckHeaders(rev Revision, msg *Message, h Headers) error {
	if rev != Rev20260728 || msg == nil {
		return nil
	}
	for _, check := range []func(Revision, *Message, Headers) (string, string){
		checkVersionHeader, checkMethodHeader, checkNameHeader,
	} {
		if header, problem := check(rev, msg, h); problem != "" {
			return &Error{Code: CodeHeaderMismatch, ID: msg.ID, Msg: msgHeader + ": " + header,
				Cause: fmt.Errorf("%s header %s", header, problem)}
		}
	}
	return nil
}

// single returns the one value of header name; problem is set when it is
// missing, repeated or has characters not allowed in a header value.
func single(h Headers, name string) (value string, present bool, problem string) {
	vals := h.Values(name)
	switch {
	case len(vals) == 0:
		return "", false, "is missing"
	case len(vals) > 1:
		return "", true, fmt.Sprintf("is repeated (%d values)", len(vals))
	case !headerSafe(vals[0]):
		return "", true, "has characters outside visible ASCII"
	}
	return vals[0], true, ""
}

// headerSafe reports whether v has only visible ASCII, space and tab.
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
			return false
		}
	}
	return true
}

func checkVersionHeader(rev Revision, msg *Message, h Headers) (string, string) {
	const name = "MCP-Protocol-Version"
	v, _, problem := single(h, HeaderProtocolVersion)
	switch {
	case problem != "":
		return name, problem
	case v != string(rev):
		return name, "differs from the selected revision"
	case msg.Kind == KindRequest && msg.MetaProtocolVersion == "":
		return name, "has no _meta protocol version to match in the body"
	case msg.MetaProtocolVersion != "" && v != msg.MetaProtocolVersion:
		return name, "differs from the body's _meta protocol version"
	}
	return "", ""
}

func checkMethodHeader(_ Revision, msg *Message, h Headers) (string, string) {
	const name = "Mcp-Method"
	v, present, problem := single(h, HeaderMethod)
	switch {
	case !present && msg.Kind != KindRequest:
		return "", ""
	case msg.Kind == KindResponse:
		return name, "is set on a response"
	case problem != "":
		return name, problem
	case v != msg.Method:
		return name, "differs from the body's method"
	}
	return "", ""
}

func checkNameHeader(_ Revision, msg *Message, h Headers) (string, string) {
	const name = "Mcp-Name"
	required := msg.Kind == KindRequest && nameRequired[msg.Method]
	v, present, problem := single(h, HeaderName)
	switch {
	case !required && !present:
		return "", ""
	case !required:
		return name, "is set on a message without params.name or params.uri"
	case problem != "":
		return name, problem
	}
	decoded, ok := decodeHeaderValue(v)
	switch {
	case !ok:
		return name, "has a malformed Base64 sentinel value"
	case decoded != msg.Name:
		return name, "differs from the body's params.name or params.uri"
	}
	return "", ""
}

// DecodeHeaderValue decodes an Mcp-* header value as the 2026-07-28
// transport defines it: the raw value must be visible ASCII (with space and
// tab), and the =?base64?<b64>?= form (standard alphabet, padded, strict,
// UTF-8 content) is unwrapped; any other value is returned as it is. ok is
// false for a value an intermediary and the server could read differently.
func DecodeHeaderValue(v string) (decoded string, ok bool) {
	if !headerSafe(v) {
		return "", false
	}
	return decodeHeaderValue(v)
}

// decodeHeaderValue decodes the =?base64?<b64>?= form (standard alphabet,
// padded, UTF-8 content); any other value is returned as it is.
func decodeHeaderValue(v string) (string, bool) {
	if len(v) < len(b64Prefix)+len(b64Suffix) || !strings.HasPrefix(v, b64Prefix) || !strings.HasSuffix(v, b64Suffix) {
		return v, true
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(v[len(b64Prefix) : len(v)-len(b64Suffix)])
	if err != nil || !utf8.Valid(raw) {
		return "", false
	}
	return string(raw), true
}

// SelectRevision chooses the revision that governs a POST. With an
// MCP-Protocol-Version header value, that revision (CodeUnsupportedVersion
// when it is not supported; CodeHeaderMismatch when the body's _meta
// protocol version says otherwise). Without the header: for initialize,
// params.protocolVersion when it is a supported revision that has initialize,
// else 2025-11-25, the newest stateful revision (initialize negotiates the
// version); for a body with a _meta protocol version, that one; otherwise
// the specification says to assume 2025-03-26, which is not supported:
// CodeUnsupportedVersion. msg may be nil (GET and DELETE carry no body).
func SelectRevision(header string, msg *Message) (Revision, error) {
	var id json.RawMessage
	var meta string
	if msg != nil {
		id, meta = msg.ID, msg.MetaProtocolVersion
	}
	if header != "" {
		rev, ok := ParseRevision(header)
		if !ok {
			return "", unsupported(id, "header names an unsupported revision")
		}
		if meta != "" && meta != header {
			return "", &Error{Code: CodeHeaderMismatch, ID: id, Msg: msgHeader + ": MCP-Protocol-Version",
				Cause: fmt.Errorf("MCP-Protocol-Version header differs from the body's _meta protocol version")}
		}
		return rev, nil
	}
	switch {
	case msg != nil && msg.Method == "initialize":
		if rev, ok := ParseRevision(msg.ProtocolVersion); ok && KnownMethod(rev, "initialize") {
			return rev, nil
		}
		return Rev20251125, nil
	case meta != "":
		if rev, ok := ParseRevision(meta); ok {
			return rev, nil
		}
		return "", unsupported(id, "body _meta names an unsupported revision")
	}
	return "", unsupported(id, "no MCP-Protocol-Version header: the specification assumes 2025-03-26")
}

func unsupported(id json.RawMessage, why string) error {
	return &Error{Code: CodeUnsupportedVersion, ID: id, Msg: msgUnsupported, Cause: fmt.Errorf("%s", why)}
}
