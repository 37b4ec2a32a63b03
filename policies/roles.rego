# METADATA
# title: Roles
# description: >-
#   Role-based tool grants. data.mcp.roles[role].tools lists canonical tool ids
#   ("<server>/<tool>") a role may call; "<server>/*" grants every tool
#   registered on that server. The caller's roles come from the token
#   (input.principal.roles). Change a mapping in data, not here.
package mcp.authz.roles

import data.mcp.authz.tools

# METADATA
# title: Grants
# description: Every grant (canonical id or "<server>/*") of every role the caller holds.
grants contains grant if {
	some role in input.principal.roles
	some grant in data.mcp.roles[role].tools
}

# METADATA
# title: Tool allowed
# description: >-
#   True when one of the caller's roles grants the tool by its canonical id, or
#   grants "<server>/*" and the tool is registered on this hop.
# scope: document
allowed if tools.id in grants

allowed if {
	concat("/", [tools.server, "*"]) in grants
	tools.registered
}
