package mcp

import (
	"encoding/json"
	"errors"
)

// JSON-RPC and MCP error codes that Parse, CheckHeaders and SelectRevision
// return in Error.Code.
const (
	// CodeParseError: the body is not exactly one well-formed JSON text in
	// UTF-8 (JSON-RPC -32700). Its Error.ID is always nil (null).
	CodeParseError = -32700
	// CodeInvalidRequest: the JSON is not one acceptable JSON-RPC 2.0 message
	// (JSON-RPC -32600): a batch, a duplicate or case-folded member name, a
	// bad id, nesting deeper than Limits.MaxDepth, a body over Limits.MaxBytes.
	CodeInvalidRequest = -32600
	// CodeInvalidParams: the params of a known MCP method are malformed
	// (JSON-RPC -32602), e.g. tools/call without a string params.name.
	CodeInvalidParams = -32602
	// CodeHeaderMismatch: a 2026-07-28 routing header is missing, repeated,
	// malformed or differs from the body (MCP HeaderMismatch).
	CodeHeaderMismatch = -32020
	// CodeUnsupportedVersion: the protocol revision is not one of
	// SupportedRevisions (MCP UnsupportedProtocolVersion).
	CodeUnsupportedVersion = -32022
)

// ErrTooLarge is the cause (wrapped in an *Error with CodeInvalidRequest) when
// a body exceeds Limits.MaxBytes; callers map it to HTTP 413 with
// errors.Is(err, ErrTooLarge).
var ErrTooLarge = errors.New("body exceeds the size limit")

// Error is a parse, validation, header or version failure with the JSON-RPC
// error code to answer with.
type Error struct {
	// Code is one of the Code* constants.
	Code int
	// ID is the raw JSON id of the request, byte-exact, when the top-level
	// object was read and carried a valid id (a string or a number); nil
	// means the error response carries "id": null. Always nil for
	// CodeParseError.
	ID json.RawMessage
	// Msg is a short client-safe message (it never contains input data).
	Msg string
	// Cause is the detailed reason, for logs only.
	Cause error
}

// Error implements error: "mcp: <Msg>: <Cause>".
func (e *Error) Error() string {
	if e.Cause == nil {
		return "mcp: " + e.Msg
	}
	return "mcp: " + e.Msg + ": " + e.Cause.Error()
}

// Unwrap returns the cause, so errors.Is(err, ErrTooLarge) works.
func (e *Error) Unwrap() error { return e.Cause }

// Client-safe messages, one per rule, so a log line or a test can tell which
// rule refused a body.
const (
	msgParse          = "Parse error"
	msgTooLarge       = "Invalid Request: body too large"
	msgTooDeep        = "Invalid Request: nesting too deep"
	msgNotObject      = "Invalid Request: not a JSON-RPC object"
	msgBatch          = "Invalid Request: batches are not supported"
	msgDuplicate      = "Invalid Request: duplicate member name"
	msgFoldDuplicate  = "Invalid Request: member names differ only in case"
	msgFoldKnown      = "Invalid Request: member name differs from a protocol member only in case"
	msgProto          = "Invalid Request: member name __proto__ is not allowed"
	msgNumber         = "Invalid Request: number too long, out of range, or too many numbers"
	msgVersion        = `Invalid Request: jsonrpc must be "2.0"`
	msgUnknownMember  = "Invalid Request: unknown top-level member"
	msgMethodType     = "Invalid Request: method must be a string"
	msgIDType         = "Invalid Request: id must be a string or an integer"
	msgNoMethod       = "Invalid Request: missing method, result or error"
	msgMixed          = "Invalid Request: a request carries no result or error"
	msgResultAndError = "Invalid Request: a response carries exactly one of result and error"
	msgResponseID     = "Invalid Request: a result response needs an id"
	msgResponseParams = "Invalid Request: a response carries no params"
	msgErrorObject    = "Invalid Request: error must be an object with an integer code and a string message"
	msgParamsType     = "Invalid Request: params must be an object"
	msgParamsArray    = "Invalid params: params must be an object"
	msgParamsMissing  = "Invalid params: params are required"
	msgName           = "Invalid params: params.name must be a string"
	msgURI            = "Invalid params: params.uri must be a string"
	msgArguments      = "Invalid params: params.arguments must be an object"
	msgMeta           = "Invalid params: params._meta must be an object"
	msgMetaVersion    = "Invalid params: the _meta protocol version must be a string"
	msgInitVersion    = "Invalid params: params.protocolVersion must be a string"
	msgHeader         = "Header mismatch"
	msgUnsupported    = "Unsupported protocol version"
)
