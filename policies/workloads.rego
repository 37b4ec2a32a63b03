# METADATA
# title: Workloads
# description: >-
#   The calling workload's mTLS identity, for agent-to-agent hops that need both
#   a user token and a named calling workload. The caller's identities are
#   input.workload.principal (Envoy's source.principal, the SPIFFE ID in Istio)
#   and every URI SAN of the peer certificate (input.workload.uri_sans).
#   data.mcp.servers[server].workloads restricts every request to the hop's
#   server; data.mcp.servers[server].tools[tool].workloads further restricts
#   tools/call of that tool. An entry is an exact identity, or a pattern ending
#   in "/*" that matches any path below it. One identity must match one entry
#   of every list that applies; no list, no requirement; an empty list admits
#   no workload.
package mcp.authz.workloads

import data.mcp.authz.tools

# METADATA
# title: Caller identities
# description: The non-empty workload principal and peer certificate URI SANs.
# scope: document
identities contains id if {
	id := input.workload.principal
	is_string(id)
	id != ""
}

identities contains id if {
	some id in input.workload.uri_sans
	is_string(id)
	id != ""
}

# METADATA
# title: Path below
# description: >-
#   True when rest is one or more SPIFFE path segments (A-Z a-z 0-9 . _ -,
#   separated by "/", none empty, "." or "..").
path_below(rest) if {
	regex.match(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`, rest)
	every segment in split(rest, "/") {
		not segment in {".", ".."}
	}
}

# METADATA
# title: Entry matches
# description: >-
#   True when the identity equals the entry, or the entry ends in "/*" and the
#   identity is a path below the part before the "*".
# scope: document
matches(entry, id) if {
	is_string(entry)
	entry == id
}

matches(entry, id) if {
	is_string(entry)
	endswith(entry, "/*")
	prefix := trim_suffix(entry, "*")
	startswith(id, prefix)
	path_below(substring(id, count(prefix), -1))
}

# METADATA
# title: Listed
# description: True when one of the caller's identities matches one entry of list.
listed(list) if {
	some entry in list
	some id in identities
	matches(entry, id)
}

# METADATA
# title: Server workloads
# description: The workloads allowed to reach this hop's server (data.mcp.servers[server].workloads).
server_list := data.mcp.servers[tools.server].workloads

# METADATA
# title: Server restricted
# description: True when the hop's server lists workloads; an empty list allows no workload.
server_restricted if server_list != null

# METADATA
# title: Server workload allowed
# description: True when the server lists no workloads or the caller is one of them.
# scope: document
server_allowed if not server_restricted

server_allowed if listed(server_list)

# METADATA
# title: Tool workloads
# description: The workloads allowed to call this tool (data.mcp.servers[server].tools[tool].workloads).
tool_list := tools.entry.workloads

# METADATA
# title: Tool restricted
# description: True when the called tool lists workloads; an empty list allows no workload.
tool_restricted if tool_list != null

# METADATA
# title: Tool workload allowed
# description: >-
#   True when the tool lists no workloads or the caller is one of them. The
#   server's list applies as well (server_allowed runs first).
# scope: document
tool_allowed if not tool_restricted

tool_allowed if listed(tool_list)
