# METADATA
# title: Tools
# description: >-
#   The registry checks of a tools/call. Go computes the verdict in input.tool
#   (registered, approved, drifted, arguments_valid) from the hop's registry;
#   these rules read it, fail closed when a field is absent, and cross-check it
#   against data.mcp.servers so a verdict for another tool or hop never counts.
package mcp.authz.tools

# METADATA
# title: Server
# description: The registry name of this hop's upstream MCP server (data.mcp.servers key).
server := input.resource.server

# METADATA
# title: Tool name
# description: params.name of the tools/call.
name := input.mcp.tool

# METADATA
# title: Canonical tool id
# description: The canonical tool id "<server>/<tool>" that role grants name.
id := concat("/", [server, name])

# METADATA
# title: Registry entry
# description: The tool's entry in the hop's registry, data.mcp.servers[server].tools[name].
entry := data.mcp.servers[server].tools[name]

# METADATA
# title: Registered
# description: >-
#   True when Go found the tool in this hop's registry under the canonical id
#   and data.mcp.servers lists it too.
registered if {
	input.tool.registered == true
	input.tool.id == id
	entry
}

# METADATA
# title: Arguments valid
# description: >-
#   True when Go validated params.arguments against the approved manifest's
#   inputSchema. The values are never echoed; input.tool.arguments_error holds
#   only the failing JSON path.
arguments_valid if input.tool.arguments_valid == true
