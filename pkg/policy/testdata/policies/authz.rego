# METADATA
# description: A small decision policy that exercises pkg/policy (not the product policy).
package mcp.authz

default decision := {"allow": false, "reason": "unknown_method"}

decision := {"allow": true, "reason": "allowed"} if {
	input.mcp.known_method
	input.mcp.method != "tools/call"
}

decision := tool_decision if input.mcp.method == "tools/call"

tool_decision := {"allow": false, "reason": "tool_not_registered"} if {
	not input.tool.registered
} else := {"allow": false, "reason": "manifest_not_approved"} if {
	not input.tool.approved
} else := {
	"allow": false,
	"reason": "invalid_arguments",
	"jsonrpc_error": {"code": -32602, "message": "Invalid params"},
} if {
	not input.tool.arguments_valid
} else := {"allow": false, "reason": "tool_not_allowed"} if {
	not granted
} else := {"allow": true, "reason": "allowed", "upstream_headers": {"x-mcp-tool": input.tool.id}}

# METADATA
# description: A role of the caller grants the tool, by id or by <server>/*.
granted if {
	some role in input.principal.roles
	some grant in data.mcp.roles[role].tools
	grant_matches(grant, input.tool.id)
}

grant_matches(grant, id) if grant == id

grant_matches(grant, id) if {
	endswith(grant, "/*")
	startswith(id, trim_suffix(grant, "*"))
}
