# METADATA
# title: Connections
# description: >-
#   Third-party connections a call needs (data.mcp.servers[s].connections for
#   every tools/call, prompts/get and resources/read of the server, and
#   tools[t].connections for a tools/call of the tool) against the caller's
#   connections in input.connections (never the credentials). A call that is
#   otherwise allowed but lacks one is answered with a URL-mode elicitation
#   (needs_connection); an allowed call names the providers whose credentials
#   go upstream (connections).
package mcp.authz.connections

# METADATA
# title: Methods
# description: The methods a connection requirement applies to (MRTR's supported requests).
methods := {"tools/call", "prompts/get", "resources/read"}

# METADATA
# title: Server connections
# description: The connections every call of this hop's server needs.
default server_connections := []

server_connections := data.mcp.servers[input.resource.server].connections

# METADATA
# title: Tool connections
# description: The connections a tools/call of this tool needs besides the server's.
default tool_connections := []

tool_connections := data.mcp.servers[input.resource.server].tools[input.mcp.tool].connections if {
	input.mcp.method == "tools/call"
}

# METADATA
# title: Required
# description: Every connection this call needs, server's first.
default required := []

required := array.concat(server_connections, tool_connections) if {
	input.mcp.kind == "request"
	methods[input.mcp.method]
}

# METADATA
# title: Usable
# description: True when the caller has a usable credential for c with every scope c names.
usable(c) if {
	st := input.connections[c.provider]
	st.connected == true
	every s in object.get(c, "scopes", []) {
		s in st.scopes
	}
}

# METADATA
# title: Missing
# description: The required connections the caller lacks, in order.
missing := [c | some c in required; not usable(c)]

# METADATA
# title: Needed
# description: The first missing connection, as the decision's needs_connection.
needed := {"provider": c.provider, "scopes": object.get(c, "scopes", [])} if {
	c := missing[0]
}

# METADATA
# title: Providers
# description: The providers whose credentials an allowed call carries upstream, sorted.
providers := sort({c.provider | some c in required})
