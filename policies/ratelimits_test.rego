package mcp.authz.ratelimits_test

import data.mcp.authz.ratelimits

rl_data := {
	"methods": ["tools/call"],
	"limits": {
		"user": {"by": ["user"], "rate": {"requests": 60, "window": 60, "burst": 10}},
		"user_tool": {"by": ["user", "tool"], "match": {"tool": "issues/run_query"}, "rate": {"requests": 5, "window": 60}},
		"tenant_budget": {"by": ["tenant"], "budget": {"units": 1000, "window": 86400}},
	},
	"overrides": [
		{"limit": "user", "match": {"user": "robot"}, "exempt": true},
		{"limit": "user", "match": {"role": "admin"}, "rate": {"requests": 600, "window": 60, "burst": 100}},
	],
}

servers := {"issues": {"resource": "https://mcp.example.test/mcp", "tools": {
	"search_issues": {"manifest": {"name": "search_issues"}},
	"run_query": {"manifest": {"name": "run_query"}, "cost": 25},
}}}

call(sub, roles, tool, claims) := {
	"mcp": {"method": "tools/call", "tool": tool},
	"resource": {"server": "issues"},
	"principal": {"iss": "https://auth.example.test", "sub": sub, "roles": roles, "client_id": "", "claims": claims},
}

limits_of(req) := l if {
	l := ratelimits.limits with input as req
		with data.mcp.rate_limits as rl_data
		with data.mcp.servers as servers
}

by_name(ls) := {l.name: l | some l in ls}

test_allow_default_user_rate if {
	ls := by_name(limits_of(call("bob", ["analyst"], "search_issues", {})))
	ls.user == {"name": "user", "key": "user=https://auth.example.test bob", "rate": {"requests": 60, "window": 60, "burst": 10}}
	not ls.user_tool
	not ls.tenant_budget
}

test_allow_tool_limit_matches_its_tool if {
	ls := by_name(limits_of(call("bob", ["analyst"], "run_query", {})))
	ls.user_tool.key == "user=https://auth.example.test bob&tool=issues/run_query"
	ls.user_tool.rate.requests == 5
}

test_allow_budget_keyed_by_tenant_with_tool_cost if {
	ls := by_name(limits_of(call("bob", ["analyst"], "run_query", {"tenant": "acme"})))
	ls.tenant_budget == {"name": "tenant_budget", "key": "tenant=acme", "budget": {"units": 1000, "window": 86400}, "cost": 25}
}

test_allow_budget_default_cost_one if {
	ls := by_name(limits_of(call("bob", ["analyst"], "search_issues", {"tenant": "acme"})))
	ls.tenant_budget.cost == 1
}

test_allow_role_override if {
	ls := by_name(limits_of(call("alice", ["admin"], "search_issues", {})))
	ls.user.rate.requests == 600
}

test_allow_exempt_user_override_first if {
	ls := by_name(limits_of(call("robot", ["admin"], "search_issues", {})))
	not ls.user
}

test_allow_other_method_not_counted if {
	not ratelimits.counted with input as {"mcp": {"method": "tools/list"}}
		with data.mcp.rate_limits as rl_data
	ratelimits.counted with input as {"mcp": {"method": "tools/call"}}
		with data.mcp.rate_limits as rl_data
}

test_allow_no_limits_without_data if {
	count(ratelimits.limits) == 0 with input as call("bob", [], "search_issues", {})
		with data.mcp.rate_limits as {}
}

test_allow_global_limit_key if {
	ls := ratelimits.limits with input as call("bob", [], "search_issues", {})
		with data.mcp.rate_limits as {"limits": {"all": {"by": [], "rate": {"requests": 1000, "window": 1}}}}
		with data.mcp.servers as servers
	ls == [{"name": "all", "key": "*", "rate": {"requests": 1000, "window": 1}}]
}

client_role_data := {"limits": {
	"per_client_tool": {"by": ["client", "tool"], "rate": {"requests": 100, "window": 60}},
	"per_role": {"by": ["role"], "budget": {"units": 500, "window": 3600}},
}}

test_allow_client_and_role_keys if {
	req := json.patch(call("bob", ["writer", "analyst"], "run_query", {}), [{"op": "replace", "path": "/principal/client_id", "value": "agent-7"}])
	ls := by_name(ratelimits.limits) with input as req
		with data.mcp.rate_limits as client_role_data
		with data.mcp.servers as servers
	ls.per_client_tool.key == "client=agent-7&tool=issues/run_query"
	ls.per_role == {"name": "per_role", "key": "role=analyst,writer", "budget": {"units": 500, "window": 3600}, "cost": 25}
}

test_allow_limit_needs_every_dimension if {
	ls := by_name(ratelimits.limits) with input as call("bob", [], "search_issues", {})
		with data.mcp.rate_limits as client_role_data
		with data.mcp.servers as servers
	count(ls) == 0
}
