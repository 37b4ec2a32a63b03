package mcp

import "encoding/json"

// Revision is an MCP protocol revision string, e.g. "2025-06-18".
type Revision string

// The live protocol revisions this parser understands.
const (
	Rev20250618 Revision = "2025-06-18"
	Rev20251125 Revision = "2025-11-25"
	Rev20260728 Revision = "2026-07-28"
)

// Kind is the kind of JSON-RPC message a POST carries.
type Kind string

// Message kinds. KindNone is used for GET and DELETE, which carry no body.
const (
	KindRequest      Kind = "request"
	KindNotification Kind = "notification"
	KindResponse     Kind = "response"
	KindNone         Kind = "none"
)

// Message is one parsed JSON-RPC 2.0 message: exactly what the upstream MCP
// server will execute. Parse guarantees that a lenient, last-wins,
// case-sensitive decoder (as the MCP SDKs use) reads the same method, name
// and arguments from the same bytes.
type Message struct {
	// Kind is request, notification or response.
	Kind Kind
	// Method is the JSON-RPC method ("" for a response).
	Method string
	// ID is the raw JSON of the id member, byte-exact as sent (a number or a
	// string); nil for a notification. Echo it unchanged in errors.
	ID json.RawMessage
	// Name is params.name for tools/call and prompts/get, params.uri for
	// resources/read, resources/subscribe and resources/unsubscribe.
	Name string
	// Tool is params.name of a tools/call ("" otherwise).
	Tool string
	// Arguments are params.arguments (tools/call, prompts/get), decoded:
	// map[string]any, []any, string, json.Number, bool or nil values.
	Arguments map[string]any
	// ProtocolVersion is params.protocolVersion of an initialize request (the
	// revision the client asks for); "" otherwise.
	ProtocolVersion string
	// MetaProtocolVersion is params._meta["io.modelcontextprotocol/protocolVersion"]
	// when present (2026-07-28 requests carry it).
	MetaProtocolVersion string
}

// Limits bound what a caller controls while parsing.
type Limits struct {
	// MaxBytes is the largest body accepted; zero or less means
	// DefaultMaxBytes.
	MaxBytes int
	// MaxDepth is the deepest nesting of objects and arrays accepted (the
	// message object itself is depth 1); zero or less means DefaultMaxDepth.
	MaxDepth int
	// MaxNumbers is the most number literals accepted in one message; zero or
	// less means DefaultMaxNumbers. Validating arguments against a JSON
	// Schema turns every number into an exact rational, so numbers, not
	// bytes, drive its cost.
	MaxNumbers int
}
