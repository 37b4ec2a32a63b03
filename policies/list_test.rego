package mcp.list_test

import data.mcp.list

verdict(name) := {
	"id": concat("/", ["issues", name]), "registered": true, "approved": true,
	"drifted": false, "arguments_valid": true,
}

listing(roles, tools) := {
	"http": {"method": "POST"},
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"principal": {"aud": ["https://mcp.example.test/mcp"], "roles": roles, "scopes": ["mcp:tools"], "claims": {}},
	"mcp": {"kind": "request", "method": "tools/list", "revision": "2025-06-18", "known_method": true},
	"list": {"method": "tools/list", "tools": tools},
}

all_tools := {name: verdict(name) | some name in ["search_issues", "create_issue", "delete_repo"]}

test_allow_analyst_sees_only_granted_tools if {
	list.allowed == {"search_issues"} with input as listing(["analyst"], all_tools)
}

test_allow_admin_sees_every_registered_tool if {
	list.allowed == {"search_issues", "create_issue", "delete_repo"} with input as listing(["admin"], all_tools)
}

# A tool the caller may use once connected is listed: calling it is what
# starts the connect flow. The same call is connection_required, not allowed.
test_allow_tool_needing_connection_listed if {
	"create_issue" in list.allowed with input as listing(["admin"], all_tools)
		with data.mcp.servers.issues.tools.create_issue.connections as [{"provider": "mail"}]
}

test_deny_tool_needing_connection_but_not_granted if {
	not "create_issue" in list.allowed with input as listing(["analyst"], all_tools)
		with data.mcp.servers.issues.tools.create_issue.connections as [{"provider": "mail"}]
}

test_deny_drifted_tool_not_listed if {
	tools := object.union(all_tools, {"search_issues": object.union(verdict("search_issues"), {"drifted": true})})
	not "search_issues" in list.allowed with input as listing(["admin"], tools)
}

test_deny_unregistered_tool_not_listed if {
	tools := {"drop_tables": object.union(verdict("drop_tables"), {"registered": false, "approved": false})}
	count(list.allowed) == 0 with input as listing(["admin"], tools)
}

test_deny_tool_needing_missing_scope if {
	doc := json.patch(listing(["admin"], all_tools), [{"op": "replace", "path": "/principal/scopes", "value": []}])
	count(list.allowed) == 0 with input as doc
}

test_deny_no_role if {
	count(list.allowed) == 0 with input as listing([], all_tools)
}

test_allow_prompts_listed_for_any_valid_caller if {
	doc := json.patch(listing([], {}), [{"op": "replace", "path": "/list", "value": {"method": "prompts/list", "names": ["triage"]}}])
	list.allowed == {"triage"} with input as doc
}

test_deny_prompts_for_wrong_audience if {
	doc := json.patch(listing([], {}), [
		{"op": "replace", "path": "/list", "value": {"method": "prompts/list", "names": ["triage"]}},
		{"op": "replace", "path": "/principal/aud", "value": ["https://other.example.test/mcp"]},
	])
	count(list.allowed) == 0 with input as doc
}

test_allow_tool_granted_by_pinned_annotation if {
	tools := {
		"get_issue": object.union(verdict("get_issue"), {"annotations": {"readOnlyHint": true}}),
		"delete_repo": object.union(verdict("delete_repo"), {"annotations": {"readOnlyHint": false, "destructiveHint": true}}),
	}
	list.allowed == {"get_issue"} with input as listing(["viewer"], tools)
		with data.mcp.roles.viewer as {"tools": [], "tool_classes": ["issues/read_only"]}
}
