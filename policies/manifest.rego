# METADATA
# title: Manifest
# description: >-
#   The manifest pin of a tools/call's tool: the registry must hold an approved
#   SHA-256 of the tool's manifest (RFC 8785 canonical form), and drift watch
#   must not have seen the live server announce a different one. An absent
#   verdict counts against the tool.
package mcp.authz.manifest

import data.mcp.authz.tools

# METADATA
# title: Approved
# description: >-
#   True when Go reports the manifest approved and the registry entry carries a
#   well-formed lower-case hex SHA-256.
approved if {
	input.tool.approved == true
	regex.match(`^[0-9a-f]{64}$`, tools.entry.sha256)
}

# METADATA
# title: Current
# description: True when drift watch reported the live manifest equal to the approved one.
current if input.tool.drifted == false

# METADATA
# title: Drifted
# description: True unless the manifest is known to be current (fail closed).
drifted if not current
