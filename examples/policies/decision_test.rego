package mcp.authz_test

import data.mcp.authz

# call is the input of a tools/call of deploys/<tool> by a caller with roles.
call(tool, args, roles) := {
	"http": {"method": "POST", "path": "/mcp"},
	"mcp": {
		"kind": "request", "method": "tools/call", "known_method": true, "revision": "2025-11-25",
		"tool": tool, "name": tool, "arguments": args,
	},
	"principal": {"sub": "sam", "roles": roles, "scopes": ["mcp:tools"]},
	"resource": {"id": "https://deploys.example.test/mcp", "server": "deploys"},
	"tool": {
		"id": concat("/", ["deploys", tool]), "registered": true, "approved": true,
		"drifted": false, "arguments_valid": true,
	},
}

staging := {"service": "api", "environment": "staging", "version": "v1.2.3"}

production := {"service": "api", "environment": "production", "version": "v1.2.3"}

test_allow_deployer_rolls_back_staging if {
	authz.decision == {"allow": true, "reason": "allowed", "dynamic_metadata": {"sub": "sam"}} with input as call("rollback", staging, ["deployer"])
}

test_deny_deployer_rolls_back_production if {
	authz.decision.reason == "production_requires_sre" with input as call("rollback", production, ["deployer"])
	not authz.decision.allow with input as call("rollback", production, ["deployer"])
}

test_allow_sre_rolls_back_production if {
	authz.decision.allow with input as call("rollback", production, ["sre"])
}

test_deny_viewer_rollback if {
	authz.decision.reason == "tool_not_allowed" with input as call("rollback", staging, ["viewer"])
}

test_allow_viewer_lists_deploys if {
	authz.decision.allow with input as call("list_deploys", {"service": "api"}, ["viewer"])
}

test_deny_no_role if {
	authz.decision.reason == "tool_not_allowed" with input as call("list_deploys", {"service": "api"}, [])
}

test_deny_unregistered_tool if {
	x := json.patch(call("drop_db", {}, ["sre"]), [{"op": "replace", "path": "/tool/registered", "value": false}])
	authz.decision.reason == "tool_not_registered" with input as x
}

test_deny_unapproved_manifest if {
	x := json.patch(call("rollback", staging, ["sre"]), [{"op": "replace", "path": "/tool/approved", "value": false}])
	authz.decision.reason == "manifest_not_approved" with input as x
}

test_deny_drifted_manifest if {
	x := json.patch(call("rollback", staging, ["sre"]), [{"op": "replace", "path": "/tool/drifted", "value": true}])
	authz.decision.reason == "manifest_drift" with input as x
}

test_deny_drift_unknown if {
	x := json.patch(call("rollback", staging, ["sre"]), [{"op": "remove", "path": "/tool/drifted"}])
	authz.decision.reason == "manifest_drift" with input as x
}

test_deny_invalid_arguments if {
	x := json.patch(call("rollback", {"environment": "production"}, ["sre"]), [{"op": "replace", "path": "/tool/arguments_valid", "value": false}])
	authz.decision.reason == "invalid_arguments" with input as x
}

test_allow_tools_list if {
	authz.decision.allow with input as {
		"http": {"method": "POST"},
		"mcp": {"kind": "request", "method": "tools/list", "known_method": true},
		"principal": {"sub": "sam", "roles": []},
	}
}

test_deny_unknown_method if {
	authz.decision.reason == "unknown_method" with input as {
		"http": {"method": "POST"},
		"mcp": {"kind": "request", "method": "admin/reset", "known_method": false},
		"principal": {"sub": "sam", "roles": ["sre"]},
	}
}

test_allow_session_get if {
	authz.decision.allow with input as {
		"http": {"method": "GET"},
		"mcp": {"kind": "none", "method": ""},
		"principal": {"sub": "sam", "roles": []},
	}
}
