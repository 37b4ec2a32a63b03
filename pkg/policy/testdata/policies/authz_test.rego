package mcp.authz_test

import data.mcp.authz

call(tool, roles) := {
	"mcp": {"method": "tools/call", "known_method": true, "tool": tool},
	"principal": {"roles": roles},
	"tool": {"id": concat("/", ["issues", tool]), "registered": true, "approved": true, "arguments_valid": true},
}

test_allow_known_method if {
	authz.decision.allow with input as {"mcp": {"method": "tools/list", "known_method": true}}
}

test_deny_unknown_method if {
	d := authz.decision with input as {"mcp": {"method": "x/y", "known_method": false}}
	d.reason == "unknown_method"
}

test_allow_analyst_search if {
	authz.decision.allow with input as call("search_issues", ["analyst"])
}

test_deny_analyst_delete if {
	d := authz.decision with input as call("delete_repo", ["analyst"])
	d.reason == "tool_not_allowed"
}

test_allow_admin_wildcard if {
	authz.decision.allow with input as call("delete_repo", ["admin"])
}
