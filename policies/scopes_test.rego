package mcp.authz.scopes_test

import data.mcp.authz.scopes

servers := {"issues": {"resource": "https://mcp.example.test/mcp", "tools": {
	"search_issues": {"scopes": ["mcp:tools"], "manifest": {"name": "search_issues"}},
	"delete_repo": {"scopes": ["mcp:tools", "issues:admin"], "manifest": {"name": "delete_repo"}},
	"ping_tool": {"scopes": [], "manifest": {"name": "ping_tool"}},
	"legacy_tool": {"manifest": {"name": "legacy_tool"}},
}}}

call(revision, tool, held) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"principal": {"sub": "u", "scopes": held},
	"mcp": {"revision": revision, "kind": "request", "method": "tools/call", "tool": tool},
	"tool": {"id": concat("/", ["issues", tool]), "registered": true},
}

test_allow_required_scope_held if {
	scopes.allowed with input as call("2025-11-25", "search_issues", ["mcp:tools", "mcp:resources"])
		with data.mcp.servers as servers
}

test_allow_all_required_scopes_held if {
	scopes.allowed with input as call("2025-11-25", "delete_repo", ["issues:admin", "mcp:tools"])
		with data.mcp.servers as servers
}

test_allow_tool_without_scopes if {
	scopes.allowed with input as call("2025-11-25", "ping_tool", []) with data.mcp.servers as servers
	scopes.allowed with input as call("2025-11-25", "legacy_tool", []) with data.mcp.servers as servers
}

test_deny_scope_missing if {
	req := call("2025-11-25", "delete_repo", ["mcp:tools"])
	not scopes.allowed with input as req with data.mcp.servers as servers
	scopes.missing == {"issues:admin"} with input as req with data.mcp.servers as servers
}

test_deny_no_scopes if {
	not scopes.allowed with input as call("2025-11-25", "search_issues", [])
		with data.mcp.servers as servers
}

test_deny_scope_is_case_sensitive if {
	not scopes.allowed with input as call("2025-11-25", "search_issues", ["MCP:TOOLS"])
		with data.mcp.servers as servers
}

test_allow_required_set if {
	scopes.required == {"mcp:tools", "issues:admin"} with input as call("2025-11-25", "delete_repo", [])
		with data.mcp.servers as servers
}

test_allow_held_set if {
	scopes.held == {"a", "b"} with input as call("2025-11-25", "delete_repo", ["a", "b", "a"])
}

test_deny_challenge_older_revision_keeps_held_scopes if {
	req := call("2025-11-25", "delete_repo", ["mcp:tools", "mcp:resources", "bad\"scope"])
	scopes.challenge_scope == "issues:admin mcp:resources mcp:tools" with input as req
		with data.mcp.servers as servers
}

test_deny_challenge_2026_names_required_scopes_only if {
	req := call("2026-07-28", "delete_repo", ["mcp:tools", "mcp:resources"])
	scopes.challenge_scope == "issues:admin mcp:tools" with input as req
		with data.mcp.servers as servers
}
