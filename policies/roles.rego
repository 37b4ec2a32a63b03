# METADATA
# title: Roles
# description: >-
#   Role-based tool grants. data.mcp.roles[role].tools lists canonical tool ids
#   ("<server>/<tool>") a role may call; "<server>/*" grants every tool
#   registered on that server; data.mcp.roles[role].tool_classes lists
#   "<server>/<class>" grants of every registered tool of a class (read_only,
#   non_destructive, idempotent, closed_world) by its pinned annotations.
#   data.mcp.settings.destructive_tools.roles, when not empty, names the roles
#   one of which a caller must hold to call any destructive tool, on top of a
#   grant. The caller's roles come from the token (input.principal.roles).
#   Change a mapping in data, not here.
#   A roles claim in another shape than the configured roles_claim_format
#   yields no roles and input.principal.roles_error (invalid_roles_claim).
package mcp.authz.roles

import data.mcp.authz.annotations
import data.mcp.authz.tools

# METADATA
# title: Grants
# description: Every grant (canonical id or "<server>/*") of every role the caller holds.
grants contains grant if {
	some role in input.principal.roles
	some grant in data.mcp.roles[role].tools
}

# METADATA
# title: Class grants
# description: Every "<server>/<class>" grant of every role the caller holds.
class_grants contains grant if {
	some role in input.principal.roles
	some grant in data.mcp.roles[role].tool_classes
}

# METADATA
# title: Tool allowed
# description: >-
#   True when the tool is granted and, if it is destructive, the caller holds
#   one of the roles the destructive_tools setting requires.
allowed if {
	granted
	destructive_allowed
}

# METADATA
# title: Tool granted
# description: >-
#   True when one of the caller's roles grants the tool by its canonical id,
#   grants "<server>/*", or grants a class of the tool's pinned annotations,
#   and (for the last two) the tool is registered on this hop.
# scope: document
granted if tools.id in grants

granted if {
	concat("/", [tools.server, "*"]) in grants
	tools.registered
}

granted if {
	some class in annotations.classes
	concat("/", [tools.server, class]) in class_grants
	tools.registered
}

# METADATA
# title: Roles for destructive tools
# description: data.mcp.settings.destructive_tools.roles (none by default).
destructive_roles contains role if some role in data.mcp.settings.destructive_tools.roles

# METADATA
# title: Destructive tool allowed
# description: >-
#   True unless the tool is destructive, destructive_tools.roles lists roles,
#   and the caller holds none of them.
# scope: document
destructive_allowed if not annotations.destructive

destructive_allowed if count(destructive_roles) == 0

destructive_allowed if {
	some role in input.principal.roles
	role in destructive_roles
}

# METADATA
# title: Roles claim invalid
# description: >-
#   True when the token's roles claim had another shape than roles_claim_format:
#   Go dropped it (no roles) and set input.principal.roles_error.
claim_invalid if input.principal.roles_error == "invalid_roles_claim"
