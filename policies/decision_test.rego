package mcp.authz_test

import data.mcp.authz

resource := "https://mcp.example.test/mcp"

hash := "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

servers := {"issues": {"resource": resource, "tools": {
	"search_issues": {"sha256": hash, "scopes": ["mcp:tools"], "manifest": {"name": "search_issues"}},
	"delete_repo": {"sha256": hash, "scopes": ["mcp:tools", "issues:admin"], "manifest": {"name": "delete_repo"}},
	"draft_tool": {"scopes": ["mcp:tools"], "manifest": {"name": "draft_tool"}},
}}}

roles_data := {
	"admin": {"tools": ["issues/*"]},
	"support": {"tools": ["issues/search_issues"]},
}

settings := {"require_tenant": false, "tenant_claim": "tenant"}

tenants_data := {"acme": {"servers": ["issues"]}, "globex": {"servers": ["wiki"]}}

# A tools/call of search_issues by alice (admin) that passes every check.
base := {
	"http": {"method": "POST", "path": "/mcp", "host": "mcp.example.test", "scheme": "https", "headers": {}},
	"mcp": {
		"revision": "2025-11-25", "kind": "request", "method": "tools/call", "known_method": true,
		"id": 7, "name": "search_issues", "tool": "search_issues", "arguments": {"q": "secret-value"},
	},
	"principal": {
		"sub": "alice", "iss": "https://auth.example.test", "aud": [resource],
		"scopes": ["mcp:tools", "mcp:resources"], "roles": ["admin"], "token_type": "Bearer",
		"claims": {"sub": "alice"},
	},
	"workload": {},
	"resource": {"id": resource, "server": "issues"},
	"tool": {
		"id": "issues/search_issues", "registered": true, "approved": true,
		"drifted": false, "arguments_valid": true,
	},
	"request": {"id": "r-1", "time": "2026-01-01T00:00:00Z"},
}

# An MCP message other than tools/call: no params.name, no tool verdict.
message(kind, method, known) := object.union(object.remove(base, ["tool"]), {"mcp": {
	"kind": kind, "method": method, "known_method": known,
	"name": "", "tool": "", "arguments": {},
}})

# A tools/call of tool whose Go verdict is verdict (merged over a passing one).
call(tool, verdict) := object.union(base, {
	"mcp": {"name": tool, "tool": tool},
	"tool": object.union({"id": concat("/", ["issues", tool])}, verdict),
})

decide(req) := d if {
	d := authz.decision with input as req
		with data.mcp.servers as servers
		with data.mcp.roles as roles_data
		with data.mcp.settings as settings
		with data.mcp.tenants as tenants_data
		with data.mcp.rate_limits as {}
}

patched(patch) := decide(object.union(base, patch))

forbidden := {"code": -32003, "message": "Forbidden by policy"}

denied(d, why) if {
	d.allow == false
	d.reason == why
}

test_allow_tool_call if {
	decide(base) == {
		"allow": true,
		"reason": "allowed",
		"dynamic_metadata": {"sub": "alice", "user": "alice", "method": "tools/call", "tool_id": "issues/search_issues"},
	}
}

test_allow_known_methods if {
	every method in ["initialize", "tools/list", "resources/read", "prompts/get", "ping"] {
		decide(message("request", method, true)) == {
			"allow": true,
			"reason": "allowed",
			"dynamic_metadata": {"sub": "alice", "user": "alice", "method": method},
		}
	}
}

test_allow_notification_and_response if {
	decide(message("notification", "notifications/initialized", true)).allow
	decide(message("response", "", false)).allow
}

test_allow_get_stream if {
	d := decide(object.union(message("none", "", false), {"http": {"method": "GET"}}))
	d.allow
	d.reason == "allowed"
}

test_deny_audience_mismatch if {
	d := patched({"principal": {"aud": ["https://other.example.test/mcp"]}})
	d == {
		"allow": false,
		"reason": "audience_mismatch",
		"jsonrpc_error": forbidden,
		"dynamic_metadata": {"sub": "alice", "user": "alice", "method": "tools/call", "tool_id": "issues/search_issues"},
	}
}

test_deny_audience_before_method if {
	req := object.union(message("request", "tools/execute", false), {"principal": {"aud": []}})
	denied(decide(req), "audience_mismatch")
}

test_deny_unknown_method if {
	d := decide(message("request", "tools/execute", false))
	denied(d, "unknown_method")
	d.jsonrpc_error == forbidden
}

test_deny_notification_without_jsonrpc_error if {
	d := decide(message("notification", "notifications/bogus", false))
	denied(d, "unknown_method")
	not d.jsonrpc_error
}

test_deny_tools_call_notification if {
	req := object.union(base, {"mcp": {"kind": "notification"}})
	denied(decide(json.remove(req, ["mcp/id"])), "unknown_method")
}

test_deny_tool_not_registered if {
	d := decide(call("drop_tables", {"registered": false, "approved": false}))
	denied(d, "tool_not_registered")
	d.jsonrpc_error == forbidden
	d.dynamic_metadata.tool_id == "issues/drop_tables"
}

test_deny_tool_verdict_missing if {
	denied(decide(object.remove(base, ["tool"])), "tool_not_registered")
}

test_deny_manifest_not_approved if {
	denied(decide(call("draft_tool", {"approved": false})), "manifest_not_approved")
	denied(decide(call("draft_tool", {"approved": true})), "manifest_not_approved")
}

test_deny_manifest_drift if {
	denied(patched({"tool": {"drifted": true}}), "manifest_drift")
}

test_deny_tenant_mismatch_on_tool_call if {
	denied(patched({"principal": {"claims": {"tenant": "globex"}}}), "tenant_mismatch")
}

test_allow_tenant_match if {
	patched({"principal": {"claims": {"tenant": "acme"}}}).allow
}

test_deny_tenant_mismatch_on_other_methods if {
	req := object.union(message("request", "resources/read", true), {"principal": {"claims": {"tenant": "globex"}}})
	d := decide(req)
	denied(d, "tenant_mismatch")
	d.jsonrpc_error == forbidden
}

test_deny_tool_not_allowed if {
	d := patched({"principal": {"roles": ["support"]}, "mcp": {"tool": "delete_repo"}, "tool": {"id": "issues/delete_repo"}})
	denied(d, "tool_not_allowed")
	d.jsonrpc_error == forbidden
}

test_deny_no_roles if {
	denied(patched({"principal": {"roles": []}}), "tool_not_allowed")
}

test_deny_invalid_roles_claim if {
	d := patched({"principal": {"roles": [], "roles_error": "invalid_roles_claim"}})
	denied(d, "invalid_roles_claim")
	d.jsonrpc_error == forbidden
	d.dynamic_metadata == {"sub": "alice", "user": "alice", "method": "tools/call", "tool_id": "issues/search_issues", "roles_error": "invalid_roles_claim"}
}

test_deny_invalid_roles_claim_after_registry_checks if {
	denied(patched({"principal": {"roles": [], "roles_error": "invalid_roles_claim"}, "tool": {"drifted": true}}), "manifest_drift")
}

test_allow_invalid_roles_claim_when_no_role_is_needed if {
	req := object.union(message("request", "tools/list", true), {"principal": {"roles": [], "roles_error": "invalid_roles_claim"}})
	d := decide(req)
	d.allow
	d.dynamic_metadata.roles_error == "invalid_roles_claim"
}

test_deny_insufficient_scope if {
	d := decide(call("delete_repo", {}))
	d == {
		"allow": false,
		"reason": "insufficient_scope",
		"http_status": 403,
		"challenge": {
			"error": "insufficient_scope",
			"error_description": "Additional scope required",
			"scope": "issues:admin mcp:resources mcp:tools",
		},
		"jsonrpc_error": forbidden,
		"dynamic_metadata": {"sub": "alice", "user": "alice", "method": "tools/call", "tool_id": "issues/delete_repo"},
	}
}

test_allow_scope_step_up_done if {
	req := object.union(call("delete_repo", {}), {"principal": {"scopes": ["mcp:tools", "issues:admin"]}})
	decide(req).allow
}

test_deny_invalid_arguments if {
	d := patched({"tool": {"arguments_valid": false, "arguments_error": "/q"}})
	denied(d, "invalid_arguments")
	d.jsonrpc_error == {"code": -32602, "message": "Invalid params"}
	not contains(json.marshal(d), "secret-value")
	not d.challenge
}

test_deny_first_failing_check_wins if {
	denied(decide(call("drop_tables", {"registered": false, "drifted": true})), "tool_not_registered")
	denied(patched({"tool": {"approved": false, "drifted": true}}), "manifest_not_approved")
	denied(patched({"tool": {"drifted": true}, "principal": {"claims": {"tenant": "globex"}}}), "manifest_drift")
	denied(patched({"principal": {"roles": [], "claims": {"tenant": "globex"}}}), "tenant_mismatch")
	denied(patched({"principal": {"roles": [], "scopes": []}}), "tool_not_allowed")
	denied(patched({"principal": {"scopes": []}, "tool": {"arguments_valid": false}}), "insufficient_scope")
}

test_allow_metadata_without_principal_sub if {
	req := json.remove(message("response", "", false), ["principal/sub"])
	decide(req).dynamic_metadata == {"sub": "", "user": "", "method": ""}
}

test_deny_allow_rule_false_unless_allowed if {
	not authz.allow with authz.reason as "tool_not_allowed"
	authz.allow with authz.reason as "allowed"
}

# Stands in for a rule that comes out undefined: the index is past the end.
undefined_union(objects) := objects[count(objects)]

test_deny_default_when_undefined if {
	d := authz.decision with input as base
		with object.union_n as undefined_union
	d == {"allow": false, "reason": "policy_denied"}
}

# DPoP and workloads: the issues server requires a workload of the agents
# namespace, and delete_repo the planner and a DPoP-bound token.
planner := "spiffe://cluster.local/ns/agents/sa/planner"

bound_servers := {"issues": object.union(servers.issues, {
	"workloads": ["spiffe://cluster.local/ns/agents/*"],
	"tools": {"delete_repo": {"require_dpop": true, "workloads": [planner]}},
})}

dpop_settings := object.union(settings, {"dpop_required_issuers": ["https://auth.example.test"]})

# decide with other settings.
decide_settings(req, settings_doc) := d if {
	d := authz.decision with input as req
		with data.mcp.servers as servers
		with data.mcp.roles as roles_data
		with data.mcp.settings as settings_doc
		with data.mcp.tenants as tenants_data
}

decide_bound(req, settings_doc) := d if {
	d := authz.decision with input as req
		with data.mcp.servers as bound_servers
		with data.mcp.roles as roles_data
		with data.mcp.settings as settings_doc
		with data.mcp.tenants as tenants_data
}

# A passing tools/call of delete_repo by the planner with a DPoP-bound token.
bound_call := object.union(call("delete_repo", {}), {
	"principal": {"token_type": "DPoP", "scopes": ["mcp:tools", "issues:admin"]},
	"workload": {"principal": planner},
})

dpop_challenge := {"scheme": "DPoP", "error": "invalid_token", "error_description": "DPoP-bound token required"}

test_allow_dpop_bound_planner_calls_delete_repo if {
	decide_bound(bound_call, settings).allow
	decide_bound(bound_call, dpop_settings).allow
}

test_deny_dpop_required_by_issuer if {
	req := object.union(base, {"principal": {"token_type": "Bearer"}})
	d := decide_settings(req, dpop_settings)
	d == {
		"allow": false,
		"reason": "dpop_required",
		"http_status": 401,
		"challenge": dpop_challenge,
		"jsonrpc_error": forbidden,
		"dynamic_metadata": {"sub": "alice", "user": "alice", "method": "tools/call", "tool_id": "issues/search_issues"},
	}
}

test_allow_dpop_required_by_issuer_and_bound if {
	req := object.union(base, {"principal": {"token_type": "DPoP"}})
	d := decide_settings(req, dpop_settings)
	d.allow
	not d.challenge
	not d.http_status
}

test_deny_dpop_required_by_issuer_on_every_request if {
	get := object.union(message("none", "", false), {"http": {"method": "GET"}})
	every req in [message("request", "tools/list", true), message("notification", "notifications/initialized", true), get] {
		d := decide_settings(req, dpop_settings)
		denied(d, "dpop_required")
		d.http_status == 401
		d.challenge == dpop_challenge
	}
	not decide_settings(get, dpop_settings).jsonrpc_error
}

test_deny_dpop_required_by_tool if {
	req := object.union(bound_call, {"principal": {"token_type": "Bearer"}})
	d := decide_bound(req, settings)
	d == {
		"allow": false,
		"reason": "dpop_required",
		"http_status": 401,
		"challenge": dpop_challenge,
		"jsonrpc_error": forbidden,
		"dynamic_metadata": {"sub": "alice", "user": "alice", "method": "tools/call", "tool_id": "issues/delete_repo"},
	}
}

test_allow_dpop_not_required_for_other_tools if {
	req := object.union(base, {"workload": {"principal": planner}})
	decide_bound(req, settings).allow
}

test_deny_workload_not_allowed_by_server if {
	req := object.union(bound_call, {"workload": {"principal": "spiffe://cluster.local/ns/web/sa/frontend"}})
	d := decide_bound(req, settings)
	d == {
		"allow": false,
		"reason": "workload_not_allowed",
		"jsonrpc_error": forbidden,
		"dynamic_metadata": {"sub": "alice", "user": "alice", "method": "tools/call", "tool_id": "issues/delete_repo"},
	}
}

test_deny_workload_not_allowed_on_every_request if {
	d := decide_bound(message("request", "tools/list", true), settings)
	denied(d, "workload_not_allowed")
	d.jsonrpc_error == forbidden
	n := decide_bound(message("notification", "notifications/initialized", true), settings)
	denied(n, "workload_not_allowed")
	not n.jsonrpc_error
	not n.http_status
}

test_allow_workload_by_uri_san if {
	req := object.union(message("request", "tools/list", true), {"workload": {"uri_sans": [planner]}})
	decide_bound(req, settings).allow
}

test_deny_workload_not_allowed_by_tool if {
	other := "spiffe://cluster.local/ns/agents/sa/summarizer"
	req := object.union(bound_call, {"workload": {"principal": other}})
	d := decide_bound(req, settings)
	denied(d, "workload_not_allowed")
	d.jsonrpc_error == forbidden
	not d.http_status

	# The same workload reaches the server and its unrestricted tools.
	decide_bound(object.union(base, {"workload": {"principal": other}}), settings).allow
}

test_deny_identity_checks_order if {
	# audience, issuer DPoP, server workload, method: the first that fails wins.
	nothing := {"principal": {"aud": [], "token_type": "Bearer"}, "workload": {}}
	denied(decide_bound(object.union(bound_call, nothing), dpop_settings), "audience_mismatch")
	no_dpop := {"principal": {"token_type": "Bearer"}, "workload": {"principal": "spiffe://x/y"}}
	denied(decide_bound(object.union(bound_call, no_dpop), dpop_settings), "dpop_required")
	denied(decide_bound(object.union(bound_call, no_dpop), settings), "workload_not_allowed")
	unknown := object.union(message("request", "tools/execute", false), {"workload": {}})
	denied(decide_bound(unknown, settings), "workload_not_allowed")
}

test_deny_tool_identity_checks_order if {
	# tool_not_registered, tool DPoP, tool workload, manifest, drift, tenant, role.
	unregistered := object.union(call("drop_tables", {"registered": false}), {"workload": {"principal": planner}})
	denied(decide_bound(unregistered, settings), "tool_not_registered")
	bearer := {"principal": {"token_type": "Bearer"}}
	other := {"workload": {"principal": "spiffe://cluster.local/ns/agents/sa/summarizer"}}
	worst := {"tool": {"approved": false, "drifted": true}, "principal": {"roles": [], "claims": {"tenant": "globex"}}}
	denied(decide_bound(object.union_n([bound_call, worst, bearer, other]), settings), "dpop_required")
	denied(decide_bound(object.union_n([bound_call, worst, other]), settings), "workload_not_allowed")
	denied(decide_bound(object.union(bound_call, worst), settings), "manifest_not_approved")
	no_role := {"principal": {"roles": ["support"]}}
	denied(decide_bound(object.union(bound_call, no_role), settings), "tool_not_allowed")
}

test_deny_content_hash_mismatch if {
	denied(patched({"tool": {"drifted": true, "drift_reason": "content_hash_mismatch"}}), "content_hash_mismatch")
	denied(patched({"tool": {"drifted": true, "drift_reason": "changed"}}), "manifest_drift")
}

planner_actor := {"sub": planner}

test_deny_delegation_too_deep if {
	chain := [planner_actor, planner_actor, planner_actor, planner_actor, planner_actor]
	d := patched({"principal": {"act": chain}})
	denied(d, "delegation_too_deep")
	d.jsonrpc_error == forbidden
}

test_deny_actor_not_named_by_may_act if {
	intruder := {"sub": "spiffe://cluster.local/ns/evil/sa/x"}
	d := patched({"principal": {"act": [intruder], "may_act": planner_actor}})
	denied(d, "actor_not_allowed")
}

test_allow_delegated_call if {
	d := patched({"principal": {"act": [planner_actor, {"sub": "app-1"}], "may_act": planner_actor}})
	d.allow == true
}

mail_servers := {"issues": object.union(servers.issues, {"tools": {"search_issues": {
	"sha256": hash, "scopes": ["mcp:tools"], "manifest": {"name": "search_issues"},
	"connections": [{"provider": "mail", "scopes": ["mail.read"]}],
}}})}

decide_mail(req) := d if {
	d := authz.decision with input as req
		with data.mcp.servers as mail_servers
		with data.mcp.roles as roles_data
		with data.mcp.settings as settings
		with data.mcp.tenants as tenants_data
}

test_connection_required_when_not_connected if {
	d := decide_mail(base)
	denied(d, "connection_required")
	d.needs_connection == {"provider": "mail", "scopes": ["mail.read"]}
}

test_connection_required_never_masks_an_earlier_deny if {
	d := decide_mail(object.union(base, {"principal": {"roles": ["nobody"]}}))
	denied(d, "tool_not_allowed")
	not d.needs_connection
}

test_connected_call_names_its_connections if {
	d := decide_mail(object.union(base, {"connections": {"mail": {"connected": true, "scopes": ["mail.read"]}}}))
	d.allow
	d.connections == ["mail"]
	not d.needs_connection
}

limits_data := {"limits": {"user": {"by": ["user"], "rate": {"requests": 60, "window": 60}}}}

decide_limited(req) := d if {
	d := authz.decision with input as req
		with data.mcp.servers as servers
		with data.mcp.roles as roles_data
		with data.mcp.settings as settings
		with data.mcp.tenants as tenants_data
		with data.mcp.rate_limits as limits_data
}

test_allow_names_rate_limits if {
	decide_limited(base).rate_limits == [{
		"name": "user", "key": "user=https://auth.example.test alice",
		"rate": {"requests": 60, "window": 60},
	}]
}

test_deny_names_no_rate_limits if {
	d := decide_limited(object.union(base, {"principal": {"roles": ["support"]}, "mcp": {"tool": "delete_repo"}}))
	d.allow == false
	not d.rate_limits
}

test_allow_uncounted_method_names_no_rate_limits if {
	d := decide_limited(message("request", "tools/list", true))
	d.allow
	not d.rate_limits
}

test_allow_metadata_names_tenant if {
	d := decide(object.union(base, {"principal": {"claims": {"tenant": "acme"}}}))
	d.dynamic_metadata == {
		"sub": "alice", "user": "alice", "method": "tools/call",
		"tenant": "acme", "tool_id": "issues/search_issues",
	}
}
