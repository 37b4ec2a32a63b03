package mcp.authz.workloads_test

import data.mcp.authz.workloads

hash := "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

planner := "spiffe://cluster.local/ns/agents/sa/planner"

router := "spiffe://cluster.local/ns/gateway/sa/router"

# The issues server admits any workload of the agents namespace and the
# router; delete_repo only the planner, archive_repo nobody.
servers := {"issues": {
	"resource": "https://mcp.example.test/mcp",
	"workloads": ["spiffe://cluster.local/ns/agents/*", router],
	"tools": {
		"search_issues": {"sha256": hash, "manifest": {"name": "search_issues"}},
		"delete_repo": {"sha256": hash, "workloads": [planner], "manifest": {"name": "delete_repo"}},
		"archive_repo": {"sha256": hash, "workloads": [], "manifest": {"name": "archive_repo"}},
	},
}}

# The same server without a server-wide list.
open_servers := {"issues": object.remove(servers.issues, ["workloads"])}

# A tools/call of tool from a workload with the given mTLS identity.
call(tool, workload) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"mcp": {"kind": "request", "method": "tools/call", "tool": tool},
	"principal": {"sub": "alice"},
	"workload": workload,
}

server_allowed(workload, servers_doc) if {
	workloads.server_allowed with input as call("search_issues", workload)
		with data.mcp.servers as servers_doc
}

tool_allowed(tool, workload, servers_doc) if {
	workloads.tool_allowed with input as call(tool, workload)
		with data.mcp.servers as servers_doc
}

test_allow_no_server_list_requires_no_workload if {
	server_allowed({}, open_servers)
	server_allowed({"principal": "spiffe://elsewhere/x"}, open_servers)
}

test_allow_unknown_server_requires_no_workload if {
	workloads.server_allowed with input as object.union(call("search_issues", {}), {"resource": {"server": "wiki"}})
		with data.mcp.servers as servers
}

test_allow_principal_exact_match if {
	server_allowed({"principal": router}, servers)
}

test_allow_principal_below_wildcard if {
	server_allowed({"principal": planner}, servers)
	server_allowed({"principal": "spiffe://cluster.local/ns/agents/x"}, servers)
}

test_allow_uri_san_match if {
	server_allowed({"principal": "spiffe://elsewhere/x", "uri_sans": ["https://agent.example.test", router]}, servers)
	server_allowed({"uri_sans": [planner]}, servers)
}

test_deny_no_workload_identity if {
	not server_allowed({}, servers)
	not server_allowed({"principal": "", "uri_sans": []}, servers)
}

test_deny_workload_not_listed if {
	not server_allowed({"principal": "spiffe://cluster.local/ns/default/sa/web"}, servers)
	not server_allowed({"uri_sans": ["spiffe://other.domain/ns/agents/sa/planner"]}, servers)
}

test_deny_wildcard_is_not_a_bare_prefix if {
	# The "/*" matches a path below, never a sibling or the parent itself.
	not server_allowed({"principal": "spiffe://cluster.local/ns/agents-evil/sa/x"}, servers)
	not server_allowed({"principal": "spiffe://cluster.local/ns/agents"}, servers)
	not server_allowed({"principal": "spiffe://cluster.local/ns/agents/"}, servers)
}

test_deny_wildcard_below_malformed_path if {
	every id in [
		"spiffe://cluster.local/ns/agents//sa",
		"spiffe://cluster.local/ns/agents/sa/",
		"spiffe://cluster.local/ns/agents/../gateway/sa/router2",
		"spiffe://cluster.local/ns/agents/./sa",
		"spiffe://cluster.local/ns/agents/sa?x=1",
		"spiffe://cluster.local/ns/agents/sa#x",
		"spiffe://cluster.local/ns/agents/sa x",
	] {
		not server_allowed({"principal": id}, servers)
	}
}

test_deny_star_is_literal_in_exact_match if {
	star := {"issues": object.union(servers.issues, {"workloads": ["spiffe://cluster.local/ns/*/sa/planner"]})}
	not server_allowed({"principal": planner}, star)
	server_allowed({"principal": "spiffe://cluster.local/ns/*/sa/planner"}, star)
}

test_deny_empty_server_list if {
	empty := {"issues": object.union(servers.issues, {"workloads": []})}
	not server_allowed({"principal": planner}, empty)
}

test_deny_non_string_entries_and_identities if {
	odd := {"issues": object.union(servers.issues, {"workloads": [1, null, {"id": planner}]})}
	not server_allowed({"principal": planner}, odd)
	not server_allowed({"uri_sans": [1, null]}, servers)
}

test_allow_tool_without_list if {
	tool_allowed("search_issues", {}, open_servers)
	tool_allowed("drop_tables", {}, servers)
}

test_allow_tool_listed_workload if {
	tool_allowed("delete_repo", {"principal": planner}, servers)
	tool_allowed("delete_repo", {"principal": router, "uri_sans": [planner]}, servers)
}

test_deny_tool_unlisted_workload if {
	# The router reaches the server, but delete_repo names only the planner.
	server_allowed({"principal": router}, servers)
	not tool_allowed("delete_repo", {"principal": router}, servers)
	not tool_allowed("delete_repo", {}, servers)
	workloads.tool_restricted with input as call("delete_repo", {})
		with data.mcp.servers as servers
}

test_deny_tool_empty_list if {
	not tool_allowed("archive_repo", {"principal": planner}, servers)
}
