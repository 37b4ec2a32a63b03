# METADATA
# title: Methods
# description: >-
#   Which MCP messages any valid token may send. Every method the request's
#   revision defines is allowed except tools/call, which the tool checks judge;
#   a client's JSON-RPC response and the body-less GET (SSE stream) and DELETE
#   (session end) of the session-based revisions are allowed; anything else,
#   notably an unknown method, is denied (unknown_method).
package mcp.authz.methods

# METADATA
# title: Session revisions
# description: The revisions whose Streamable HTTP has a GET stream and a DELETE session end.
session_revisions := {"2025-06-18", "2025-11-25"}

# METADATA
# title: Tool call
# description: >-
#   True for a tools/call request, which the tool checks judge. A tools/call
#   of any other kind (a notification) is neither a tool call nor allowed.
tool_call if {
	input.mcp.kind == "request"
	input.mcp.method == "tools/call"
}

# METADATA
# title: Method allowed
# description: >-
#   True for a known method other than tools/call, a client's response to a
#   server request, and a GET or DELETE of a session revision.
# scope: document
allowed if {
	input.mcp.kind in {"request", "notification"}
	input.mcp.known_method == true
	input.mcp.method != "tools/call"
}

allowed if {
	input.mcp.kind == "response"
	input.mcp.method == ""
}

allowed if {
	input.mcp.kind == "none"
	input.mcp.method == ""
	input.http.method in {"GET", "DELETE"}
	input.mcp.revision in session_revisions
}
