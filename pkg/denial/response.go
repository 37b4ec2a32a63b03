package denial

// Reasons of the response processor (ext_proc): why a response, or part
// of one, did not reach the client as the upstream sent it. The client gets
// a JSON-RPC error carrying the reason in error.data.reason.
const (
	// NoHandoff: an MCP response arrived without the ext_authz handoff in
	// its dynamic metadata, so nobody knows whom or what it answers.
	NoHandoff Reason = "no_handoff"
	// InvalidResponse: the upstream's response is not one strict JSON-RPC
	// message, or a list result is malformed.
	InvalidResponse Reason = "invalid_response"
	// ResponseTooLarge: the response body, or one SSE event, exceeds the
	// processor's buffer limit.
	ResponseTooLarge Reason = "response_too_large"
	// UnexpectedResponse: a JSON-RPC response that does not answer the
	// request of its stream (another id, or a GET stream).
	UnexpectedResponse Reason = "unexpected_response"
	// OutputTooLarge: a tools/call result exceeds the tool's size bound.
	OutputTooLarge Reason = "output_too_large"
	// OutputSchemaMismatch: a tools/call result's structuredContent does
	// not match the approved outputSchema (or is missing).
	OutputSchemaMismatch Reason = "output_schema_mismatch"
	// OutputBlocked: data.mcp.output blocked a tools/call result (the
	// policy may name its own reason instead).
	OutputBlocked Reason = "output_blocked"
)
