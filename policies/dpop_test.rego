package mcp.authz.dpop_test

import data.mcp.authz.dpop

issuer := "https://auth.example.test"

hash := "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

servers := {"issues": {"resource": "https://mcp.example.test/mcp", "tools": {
	"search_issues": {"sha256": hash, "manifest": {"name": "search_issues"}},
	"delete_repo": {"sha256": hash, "require_dpop": true, "manifest": {"name": "delete_repo"}},
	"get_issue": {"sha256": hash, "require_dpop": false, "manifest": {"name": "get_issue"}},
}}}

# A tools/call of tool with a token of iss presented as token_type.
call(tool, iss, token_type) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"mcp": {"kind": "request", "method": "tools/call", "tool": tool},
	"principal": {"sub": "alice", "iss": iss, "token_type": token_type},
}

issuers(list) := {"require_tenant": false, "tenant_claim": "tenant", "dpop_required_issuers": list}

issuer_allowed(req, settings) if {
	dpop.issuer_allowed with input as req
		with data.mcp.settings as settings
}

tool_allowed(req) if {
	dpop.tool_allowed with input as req
		with data.mcp.servers as servers
}

test_allow_bearer_when_no_issuer_listed if {
	issuer_allowed(call("search_issues", issuer, "Bearer"), {"require_tenant": false})
	issuer_allowed(call("search_issues", issuer, "Bearer"), issuers([]))
}

test_allow_bearer_from_unlisted_issuer if {
	issuer_allowed(call("search_issues", issuer, "Bearer"), issuers(["https://other.example.test"]))
}

test_allow_dpop_from_listed_issuer if {
	issuer_allowed(call("search_issues", issuer, "DPoP"), issuers([issuer]))
}

test_deny_bearer_from_listed_issuer if {
	not issuer_allowed(call("search_issues", issuer, "Bearer"), issuers(["https://other.example.test", issuer]))
	dpop.issuer_required with input as call("search_issues", issuer, "Bearer")
		with data.mcp.settings as issuers([issuer])
}

test_deny_issuer_match_is_exact if {
	not issuer_allowed(call("search_issues", concat("", [issuer, "/"]), "Bearer"), issuers([concat("", [issuer, "/"])]))
	issuer_allowed(call("search_issues", concat("", [issuer, "/"]), "Bearer"), issuers([issuer]))
}

test_deny_token_type_other_than_dpop if {
	every token_type in ["dpop", "DPOP", "Bearer", ""] {
		not issuer_allowed(call("search_issues", issuer, token_type), issuers([issuer]))
	}
}

test_deny_missing_token_type if {
	req := json.remove(call("search_issues", issuer, "DPoP"), ["principal/token_type"])
	not issuer_allowed(req, issuers([issuer]))
}

test_deny_missing_issuer_when_issuers_listed if {
	req := json.remove(call("search_issues", issuer, "Bearer"), ["principal/iss"])
	not issuer_allowed(req, issuers(["https://other.example.test"]))
	issuer_allowed(req, issuers([]))
	issuer_allowed(json.remove(call("search_issues", issuer, "DPoP"), ["principal/iss"]), issuers([issuer]))
}

test_allow_bearer_for_tool_without_require_dpop if {
	tool_allowed(call("search_issues", issuer, "Bearer"))
	tool_allowed(call("get_issue", issuer, "Bearer"))
}

test_allow_dpop_for_tool_requiring_dpop if {
	tool_allowed(call("delete_repo", issuer, "DPoP"))
}

test_deny_bearer_for_tool_requiring_dpop if {
	not tool_allowed(call("delete_repo", issuer, "Bearer"))
	dpop.tool_required with input as call("delete_repo", issuer, "Bearer")
		with data.mcp.servers as servers
}

test_allow_unregistered_tool_has_no_tool_requirement if {
	# tool_not_registered comes first in decision.rego; here nothing is required.
	tool_allowed(call("drop_tables", issuer, "Bearer"))
}

test_allow_require_dpop_on_other_server_does_not_apply if {
	req := object.union(call("delete_repo", issuer, "Bearer"), {"resource": {"server": "wiki"}})
	tool_allowed(req)
}
