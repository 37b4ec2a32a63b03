# METADATA
# title: Deploys authorization (an example of your own bundle)
# description: >-
#   A team's own policy for its "deploys" MCP server, written against
#   mcp-authz's contract: it reads the input document (policy.Input) and
#   answers data.mcp.authz.decision. It adds a custom role (deployer), a
#   custom tool (deploys/rollback, pinned in mcp/servers/deploys/data.json)
#   and an argument rule: only the sre role rolls production back. Every
#   doubt is a deny: an undefined reason is the default deny.
package mcp.authz

# METADATA
# title: Decision
# description: The decision object mcp-authz enforces.
# entrypoint: true
default decision := {"allow": false, "reason": "policy_denied"}

decision := {
	"allow": reason == "allowed",
	"reason": reason,
	"dynamic_metadata": {"sub": object.get(input, ["principal", "sub"], "")},
}

# METADATA
# title: Reason
# description: The first failing check names the reason; a tools/call gets the tool checks.
reason := "unknown_method" if {
	not other_allowed
	not tool_call
} else := tool_reason if {
	tool_call
} else := "allowed"

# METADATA
# title: Tool reason
# description: >-
#   Registered on this hop, approved (pinned hash), not drifted, granted to
#   one of the caller's roles, arguments valid for the pinned inputSchema,
#   and the team's own argument rule.
tool_reason := "tool_not_registered" if {
	not input.tool.registered
} else := "manifest_not_approved" if {
	not input.tool.approved
} else := "manifest_drift" if {
	not input.tool.drifted == false # absent counts as drifted
} else := "tool_not_allowed" if {
	not granted
} else := "invalid_arguments" if {
	not input.tool.arguments_valid
} else := "production_requires_sre" if {
	production_rollback
	not "sre" in input.principal.roles
} else := "allowed"

# METADATA
# title: Tool call
# description: A tools/call request.
tool_call if {
	input.mcp.kind == "request"
	input.mcp.method == "tools/call"
}

# METADATA
# title: Other messages
# description: >-
#   Known MCP requests and notifications other than tools/call, a client's
#   responses, and the session GET and DELETE of the session revisions.
other_allowed if {
	input.mcp.kind in {"request", "notification"}
	input.mcp.known_method
	input.mcp.method != "tools/call"
}

other_allowed if {
	input.mcp.kind == "response"
}

other_allowed if {
	input.mcp.kind == "none"
	input.http.method in {"GET", "DELETE"}
}

# METADATA
# title: Granted
# description: One of the caller's roles lists the tool's id, or "<server>/*" of its server.
granted if {
	some role in input.principal.roles
	some grant in data.mcp.roles[role].tools
	grants(grant, input.tool.id)
}

grants(grant, id) if grant == id

grants(grant, id) if {
	endswith(grant, "/*")
	startswith(id, trim_suffix(grant, "*"))
}

# METADATA
# title: Production rollback
# description: The argument rule's subject, a rollback whose environment argument is production.
production_rollback if {
	input.tool.id == "deploys/rollback"
	input.mcp.arguments.environment == "production"
}
