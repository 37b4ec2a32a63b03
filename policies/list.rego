# METADATA
# title: List filtering
# description: >-
#   Which items of a list result (tools/list, prompts/list, resources/list,
#   resources/templates/list) the caller may see: exactly those the same
#   caller could use. Each listed item is judged by the call rules of
#   data.mcp.authz (one decision source), as the request that would use it:
#   a tools/call of the tool, a prompts/get of the prompt, a resources/read of
#   the resource. The response processor asks once per list, with every item
#   in input.list, and keeps the names in allowed. An item whose use passes
#   every check but needs a third-party connection the caller lacks is
#   listed: calling it is how the caller is sent to connect.
package mcp.list

import data.mcp.authz

# METADATA
# title: Allowed items
# description: >-
#   The names (tools, prompts), URIs (resources) or URI templates the caller
#   may see. A tool is judged with Go's registry verdict from
#   input.list.tools[name]: not registered, not approved or drifted means
#   not listed.
# entrypoint: true
allowed contains name if {
	input.list.method == "tools/list"
	some name, verdict in input.list.tools
	authz.checks_reason == "allowed" with input.mcp.kind as "request"
		with input.mcp.method as "tools/call"
		with input.mcp.known_method as true
		with input.mcp.name as name
		with input.mcp.tool as name
		with input.tool as verdict
}

allowed contains name if {
	some name in input.list.names
	method := use_method[input.list.method]
	authz.checks_reason == "allowed" with input.mcp.kind as "request"
		with input.mcp.method as method
		with input.mcp.known_method as true
		with input.mcp.name as name
}

# METADATA
# title: Use method
# description: The request that uses an item of each non-tool list.
use_method := {
	"prompts/list": "prompts/get",
	"resources/list": "resources/read",
	"resources/templates/list": "resources/read",
}
