package mcp.authz.roles_test

import data.mcp.authz.roles

roles_data := {
	"admin": {"tools": ["issues/*"]},
	"analyst": {"tools": ["issues/search_issues", "issues/get_issue"]},
	"support": {"tools": ["issues/search_issues", "issues/comment_issue"]},
	"wiki_admin": {"tools": ["wiki/*"]},
}

servers := {"issues": {"resource": "https://mcp.example.test/mcp", "tools": {
	"search_issues": {"scopes": [], "manifest": {"name": "search_issues"}},
	"get_issue": {"scopes": [], "manifest": {"name": "get_issue"}},
	"comment_issue": {"scopes": [], "manifest": {"name": "comment_issue"}},
	"delete_repo": {"scopes": [], "manifest": {"name": "delete_repo"}},
}}}

call(principal_roles, tool, registered) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"principal": {"sub": "u", "roles": principal_roles},
	"mcp": {"kind": "request", "method": "tools/call", "tool": tool},
	"tool": {"id": concat("/", ["issues", tool]), "registered": registered},
}

allowed(principal_roles, tool) if {
	roles.allowed with input as call(principal_roles, tool, true)
		with data.mcp.roles as roles_data
		with data.mcp.servers as servers
}

test_allow_grants_union_of_roles if {
	got := roles.grants with input as call(["analyst", "support"], "get_issue", true)
		with data.mcp.roles as roles_data
	got == {"issues/search_issues", "issues/get_issue", "issues/comment_issue"}
}

test_deny_grants_empty_without_roles if {
	count(roles.grants) == 0 with input as call([], "get_issue", true)
		with data.mcp.roles as roles_data
}

test_deny_grants_unknown_role if {
	count(roles.grants) == 0 with input as call(["root"], "get_issue", true)
		with data.mcp.roles as roles_data
}

test_allow_exact_grant if {
	allowed(["analyst"], "get_issue")
	allowed(["support"], "comment_issue")
}

test_allow_any_of_several_roles if {
	allowed(["analyst", "support"], "comment_issue")
}

test_allow_wildcard_grants_registered_tool if {
	allowed(["admin"], "delete_repo")
}

test_deny_tool_not_granted if {
	not allowed(["analyst"], "comment_issue")
	not allowed(["support"], "delete_repo")
}

test_deny_no_roles if {
	not allowed([], "search_issues")
}

test_deny_unknown_role if {
	not allowed(["root"], "search_issues")
}

test_deny_wildcard_for_other_server if {
	not allowed(["wiki_admin"], "search_issues")
}

test_deny_wildcard_unregistered_tool if {
	not roles.allowed with input as call(["admin"], "drop_tables", false)
		with data.mcp.roles as roles_data
		with data.mcp.servers as servers
}

test_deny_role_name_is_case_sensitive if {
	not allowed(["Admin"], "search_issues")
}

test_allow_claim_valid_without_roles_error if {
	not roles.claim_invalid with input as call(["admin"], "get_issue", true)
}

test_deny_claim_invalid_with_roles_error if {
	roles.claim_invalid with input as object.union(call([], "get_issue", true), {"principal": {"roles_error": "invalid_roles_claim"}})
}
