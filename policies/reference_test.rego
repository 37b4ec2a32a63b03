# Integration test: the reference model of the shared fixtures, decided with
# the real bundle data (policies/data.json and the registry file
# policies/mcp/servers/issues/data.json), not with mocks.
package mcp.authz_test

import data.mcp.authz

reference_registry := data.mcp.servers.issues

reference_nine := {
	"search_issues", "get_issue", "list_repos", "read_file", "run_query",
	"comment_issue", "create_issue", "update_issue", "delete_repo",
}

reference_grants := {
	"admin": reference_nine,
	"analyst": {"search_issues", "get_issue", "list_repos", "read_file", "run_query"},
	"support": {"search_issues", "comment_issue"},
}

# The four users of fixtures/mcp/keys/tokens.json.
reference_users := {
	"alice": {"roles": ["admin"], "scope": "mcp:tools mcp:resources mcp:prompts", "aud": reference_registry.resource},
	"bob": {"roles": ["analyst"], "scope": "mcp:tools mcp:resources mcp:prompts", "aud": reference_registry.resource},
	"carol": {"roles": ["support"], "scope": "mcp:tools mcp:resources", "aud": reference_registry.resource},
	"dave": {"roles": ["analyst"], "scope": "mcp:tools", "aud": "https://other.example.test/mcp"},
}

# The 20 requests of fixtures/mcp/mcp-mix.json and mcp-mix.expect.json.
reference_mix := [
	["alice", "initialize", "", true],
	["alice", "notifications/initialized", "", true],
	["alice", "tools/list", "", true],
	["alice", "tools/call", "search_issues", true],
	["alice", "tools/call", "create_issue", true],
	["alice", "tools/call", "delete_repo", true],
	["alice", "prompts/get", "", true],
	["bob", "initialize", "", true],
	["bob", "tools/list", "", true],
	["bob", "tools/call", "run_query", true],
	["bob", "tools/call", "read_file", true],
	["bob", "tools/call", "create_issue", false],
	["bob", "resources/read", "", true],
	["bob", "tools/call", "get_issue", true],
	["carol", "tools/call", "search_issues", true],
	["carol", "tools/call", "comment_issue", true],
	["carol", "tools/call", "update_issue", false],
	["carol", "tools/call", "delete_repo", false],
	["carol", "resources/read", "", true],
	["dave", "tools/list", "", false],
]

reference_principal(user) := {
	"sub": user,
	"iss": "https://auth.example.test",
	"aud": [reference_users[user].aud],
	"scopes": split(reference_users[user].scope, " "),
	"roles": reference_users[user].roles,
	"token_type": "Bearer",
	"claims": {"sub": user, "roles": reference_users[user].roles, "scope": reference_users[user].scope},
}

reference_message(user, method) := {
	"http": {"method": "POST", "path": "/mcp", "host": "mcp.example.test", "scheme": "https", "headers": {}},
	"mcp": {"revision": "2025-11-25", "kind": reference_kind(method), "method": method, "known_method": true},
	"principal": reference_principal(user),
	"workload": {},
	"resource": {"id": reference_registry.resource, "server": "issues"},
	"request": {"time": "2026-01-01T00:00:00Z"},
}

reference_kind(method) := "notification" if startswith(method, "notifications/")

reference_kind(method) := "request" if not startswith(method, "notifications/")

# The verdict Go computes from the same registry for a tools/call of tool.
reference_verdict(tool) := {
	"id": concat("/", ["issues", tool]),
	"registered": tool in object.keys(reference_registry.tools),
	"approved": is_string(object.get(reference_registry.tools, [tool, "content_hash"], null)),
	"drifted": false,
	"arguments_valid": true,
	"annotations": {hint: value |
		some hint, value in object.get(reference_registry.tools, [tool, "manifest", "annotations"], {})
		is_boolean(value)
	},
}

reference_call(user, tool) := object.union(reference_message(user, "tools/call"), {
	"mcp": {"name": tool, "tool": tool, "arguments": {}},
	"tool": reference_verdict(tool),
})

reference_input(user, "tools/call", tool) := reference_call(user, tool)

reference_input(user, method, "") := reference_message(user, method) if method != "tools/call"

test_allow_reference_registry_is_the_nine_tools if {
	object.keys(reference_registry.tools) == reference_nine
	every name, tool in reference_registry.tools {
		tool.manifest.name == name
		regex.match(`^sha256-[A-Za-z0-9_-]{43}$`, tool.content_hash)
		not tool.sha256
	}
}

test_allow_reference_roles_grant_their_tools if {
	every user in ["alice", "bob", "carol"] {
		every tool in reference_grants[reference_users[user].roles[0]] {
			authz.decision.reason == "allowed" with input as reference_call(user, tool)
		}
	}
}

test_deny_reference_roles_withhold_other_tools if {
	every user in ["alice", "bob", "carol"] {
		every tool in reference_nine - reference_grants[reference_users[user].roles[0]] {
			authz.decision.reason == "tool_not_allowed" with input as reference_call(user, tool)
		}
	}
}

test_deny_reference_tool_outside_the_nine if {
	every user in ["alice", "bob", "carol"] {
		authz.decision.reason == "tool_not_registered" with input as reference_call(user, "drop_database")
	}
}

test_allow_reference_other_methods_for_any_role if {
	every user in ["alice", "bob", "carol"] {
		every method in ["initialize", "notifications/initialized", "tools/list", "resources/read", "prompts/get", "ping"] {
			authz.decision.allow with input as reference_message(user, method)
		}
	}
}

test_deny_reference_wrong_audience if {
	authz.decision.reason == "audience_mismatch" with input as reference_message("dave", "tools/list")
	authz.decision.reason == "audience_mismatch" with input as reference_call("dave", "search_issues")
}

test_deny_reference_unknown_method if {
	req := json.patch(reference_message("alice", "tools/execute"), [{"op": "replace", "path": "/mcp/known_method", "value": false}])
	authz.decision.reason == "unknown_method" with input as req
}

test_allow_reference_mix_matches_expectations if {
	every row in reference_mix {
		[user, method, tool, want] := row
		authz.decision.allow == want with input as reference_input(user, method, tool)
	}
}

# The worked example of policies/README.md: granting support get_issue is a
# change to data.mcp.roles alone.
test_allow_reference_support_granted_get_issue_in_data_only if {
	without := [grant | some grant in data.mcp.roles.support.tools; grant != "issues/get_issue"]
	granted := array.concat(without, ["issues/get_issue"])
	authz.decision.reason == "tool_not_allowed" with input as reference_call("carol", "get_issue")
		with data.mcp.roles.support.tools as without
	authz.decision.reason == "allowed" with input as reference_call("carol", "get_issue")
		with data.mcp.roles.support.tools as granted
}

# The bundle's data sets no DPoP or workload requirement: the reference model
# holds for Bearer tokens from any (or no) workload.
test_allow_reference_data_requires_no_dpop_or_workload if {
	count(object.get(data.mcp.settings, "dpop_required_issuers", [])) == 0
	every server in data.mcp.servers {
		not "workloads" in object.keys(server)
		every tool in server.tools {
			object.get(tool, "require_dpop", false) == false
			not "workloads" in object.keys(tool)
		}
	}
	authz.decision.reason == "allowed" with input as reference_call("alice", "delete_repo")
}

# The DPoP worked example of policies/README.md.
test_deny_reference_dpop_example if {
	issuers := ["https://auth.example.test"]
	bearer := reference_call("alice", "delete_repo")
	dpop := json.patch(bearer, [{"op": "replace", "path": "/principal/token_type", "value": "DPoP"}])
	authz.decision.reason == "dpop_required" with input as bearer
		with data.mcp.servers.issues.tools.delete_repo.require_dpop as true
	authz.decision.reason == "allowed" with input as dpop
		with data.mcp.servers.issues.tools.delete_repo.require_dpop as true
	authz.decision.reason == "allowed" with input as reference_call("alice", "search_issues")
		with data.mcp.servers.issues.tools.delete_repo.require_dpop as true
	authz.decision.reason == "dpop_required" with input as reference_message("bob", "tools/list")
		with data.mcp.settings.dpop_required_issuers as issuers
	bound_list := json.patch(reference_message("bob", "tools/list"), [{"op": "replace", "path": "/principal/token_type", "value": "DPoP"}])
	authz.decision.reason == "allowed" with input as bound_list
		with data.mcp.settings.dpop_required_issuers as issuers
}

reference_from(req, workload) := object.union(req, {"workload": workload})

# The workloads worked example of policies/README.md.
test_deny_reference_workloads_example if {
	agents := ["spiffe://cluster.local/ns/agents/*"]
	planner := "spiffe://cluster.local/ns/agents/sa/planner"
	authz.decision.reason == "workload_not_allowed" with input as reference_message("bob", "tools/list")
		with data.mcp.servers.issues.workloads as agents
	authz.decision.reason == "allowed" with input as reference_from(reference_message("bob", "tools/list"), {"principal": "spiffe://cluster.local/ns/agents/sa/summarizer"})
		with data.mcp.servers.issues.workloads as agents
	authz.decision.reason == "workload_not_allowed" with input as reference_from(reference_call("alice", "delete_repo"), {"principal": "spiffe://cluster.local/ns/agents/sa/summarizer"})
		with data.mcp.servers.issues.workloads as agents
		with data.mcp.servers.issues.tools.delete_repo.workloads as [planner]
	authz.decision.reason == "allowed" with input as reference_from(reference_call("alice", "delete_repo"), {"uri_sans": [planner]})
		with data.mcp.servers.issues.workloads as agents
		with data.mcp.servers.issues.tools.delete_repo.workloads as [planner]
}
