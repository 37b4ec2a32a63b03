package mcp.authz.annotations_test

import data.mcp.authz.annotations
import data.mcp.authz.dpop
import data.mcp.authz.roles

ch := "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

servers := {"issues": {"resource": "https://mcp.example.test/mcp", "tools": {
	"search_issues": {"content_hash": ch, "manifest": {"name": "search_issues"}},
	"create_issue": {"content_hash": ch, "manifest": {"name": "create_issue"}},
	"delete_repo": {"content_hash": ch, "manifest": {"name": "delete_repo"}},
	"bare": {"content_hash": ch, "manifest": {"name": "bare"}},
}}}

roles_data := {
	"viewer": {"tools": [], "tool_classes": ["issues/read_only"]},
	"writer": {"tools": [], "tool_classes": ["issues/non_destructive"]},
	"admin": {"tools": ["issues/*"]},
	"wiki_viewer": {"tools": [], "tool_classes": ["wiki/read_only"]},
}

# The pinned hints Go copies into input.tool.annotations, per tool.
pinned_hints := {
	"search_issues": {"readOnlyHint": true},
	"create_issue": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false},
	"delete_repo": {"readOnlyHint": false, "destructiveHint": true},
	"bare": {},
}

call(principal_roles, tool, token_type) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"principal": {"sub": "u", "roles": principal_roles, "token_type": token_type},
	"mcp": {"kind": "request", "method": "tools/call", "tool": tool},
	"tool": {
		"id": concat("/", ["issues", tool]), "registered": true, "approved": true,
		"drifted": false, "arguments_valid": true, "annotations": pinned_hints[tool],
	},
}

allowed(principal_roles, tool, settings) if {
	roles.allowed with input as call(principal_roles, tool, "Bearer")
		with data.mcp.roles as roles_data
		with data.mcp.servers as servers
		with data.mcp.settings as settings
}

test_allow_classes_of_read_only_tool if {
	annotations.classes == {"read_only", "non_destructive", "idempotent"} with input as call([], "search_issues", "Bearer")
}

test_allow_classes_of_non_destructive_tool if {
	annotations.classes == {"non_destructive"} with input as call([], "create_issue", "Bearer")
}

test_deny_unannotated_tool_is_destructive if {
	annotations.destructive with input as call([], "bare", "Bearer")
	count(annotations.classes) == 0 with input as call([], "bare", "Bearer")
}

test_deny_hints_of_unapproved_tool_ignored if {
	req := json.patch(call([], "search_issues", "Bearer"), [{"op": "replace", "path": "/tool/approved", "value": false}])
	not annotations.read_only with input as req
	annotations.destructive with input as req
}

test_allow_read_only_class_grants_read_only_tool if {
	allowed(["viewer"], "search_issues", {})
}

test_deny_read_only_class_refuses_destructive_tool if {
	not allowed(["viewer"], "delete_repo", {})
	not allowed(["viewer"], "create_issue", {})
}

test_deny_class_grant_of_another_server if {
	not allowed(["wiki_viewer"], "search_issues", {})
}

test_deny_class_grant_of_unregistered_tool if {
	req := json.patch(call(["viewer"], "search_issues", "Bearer"), [{"op": "replace", "path": "/tool/registered", "value": false}])
	not roles.allowed with input as req
		with data.mcp.roles as roles_data
		with data.mcp.servers as servers
}

test_allow_non_destructive_class if {
	allowed(["writer"], "create_issue", {})
	allowed(["writer"], "search_issues", {})
	not allowed(["writer"], "delete_repo", {})
}

test_deny_destructive_tool_without_listed_role if {
	not allowed(["admin"], "delete_repo", {"destructive_tools": {"roles": ["owner"]}})
}

test_allow_destructive_tool_with_listed_role if {
	allowed(["admin", "owner"], "delete_repo", {"destructive_tools": {"roles": ["owner"]}})
}

test_allow_destructive_roles_leave_other_tools_alone if {
	allowed(["admin"], "create_issue", {"destructive_tools": {"roles": ["owner"]}})
}

test_deny_destructive_role_alone_grants_nothing if {
	not allowed(["owner"], "delete_repo", {"destructive_tools": {"roles": ["owner"]}})
}

tool_dpop_allowed(tool, token_type, settings) if {
	dpop.tool_allowed with input as call(["admin"], tool, token_type)
		with data.mcp.servers as servers
		with data.mcp.settings as settings
}

test_deny_destructive_tool_bearer_when_dpop_required if {
	not tool_dpop_allowed("delete_repo", "Bearer", {"destructive_tools": {"require_dpop": true}})
	not tool_dpop_allowed("bare", "Bearer", {"destructive_tools": {"require_dpop": true}})
}

test_allow_destructive_tool_dpop_when_dpop_required if {
	tool_dpop_allowed("delete_repo", "DPoP", {"destructive_tools": {"require_dpop": true}})
}

test_allow_non_destructive_tool_bearer_when_dpop_required if {
	tool_dpop_allowed("search_issues", "Bearer", {"destructive_tools": {"require_dpop": true}})
	tool_dpop_allowed("create_issue", "Bearer", {"destructive_tools": {"require_dpop": true}})
}

test_allow_destructive_tool_bearer_by_default if {
	tool_dpop_allowed("delete_repo", "Bearer", {})
}
