package mcp.authz.tools_test

import data.mcp.authz.tools

servers := {"issues": {
	"resource": "https://mcp.example.test/mcp",
	"tools": {"search_issues": {
		"sha256": "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
		"scopes": ["mcp:tools"],
		"manifest": {"name": "search_issues"},
	}},
}}

call(server, tool, verdict) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": server},
	"mcp": {"kind": "request", "method": "tools/call", "tool": tool},
	"tool": verdict,
}

good := {
	"id": "issues/search_issues", "registered": true, "approved": true,
	"drifted": false, "arguments_valid": true,
}

test_allow_canonical_id if {
	tools.id == "issues/search_issues" with input as call("issues", "search_issues", good)
}

test_deny_id_without_server if {
	not tools.id with input as {"mcp": {"tool": "search_issues"}, "resource": {}}
}

test_allow_registered if {
	tools.registered with input as call("issues", "search_issues", good)
		with data.mcp.servers as servers
}

test_deny_not_registered_in_go if {
	not tools.registered with input as call("issues", "search_issues", object.union(good, {"registered": false}))
		with data.mcp.servers as servers
}

test_deny_not_in_registry_data if {
	verdict := object.union(good, {"id": "issues/drop_tables"})
	not tools.registered with input as call("issues", "drop_tables", verdict)
		with data.mcp.servers as servers
}

test_deny_verdict_for_another_tool if {
	not tools.registered with input as call("issues", "search_issues", object.union(good, {"id": "issues/delete_repo"}))
		with data.mcp.servers as servers
}

test_deny_verdict_for_another_server if {
	verdict := object.union(good, {"id": "wiki/search_issues"})
	not tools.registered with input as call("wiki", "search_issues", verdict)
		with data.mcp.servers as servers
}

test_deny_verdict_missing if {
	not tools.registered with input as object.remove(call("issues", "search_issues", good), ["tool"])
		with data.mcp.servers as servers
}

test_allow_entry_found if {
	tools.entry.scopes == ["mcp:tools"] with input as call("issues", "search_issues", good)
		with data.mcp.servers as servers
}

test_deny_entry_unknown_server if {
	not tools.entry with input as call("wiki", "search_issues", good)
		with data.mcp.servers as servers
}

test_allow_arguments_valid if {
	tools.arguments_valid with input as call("issues", "search_issues", good)
}

test_deny_arguments_invalid if {
	verdict := object.union(good, {"arguments_valid": false, "arguments_error": "/repo"})
	not tools.arguments_valid with input as call("issues", "search_issues", verdict)
}

test_deny_arguments_verdict_missing if {
	not tools.arguments_valid with input as call("issues", "search_issues", object.remove(good, ["arguments_valid"]))
}
