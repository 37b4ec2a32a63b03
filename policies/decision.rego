# METADATA
# title: MCP authorization decision
# description: >-
#   The entry point, data.mcp.authz.decision: combines the concerns of the
#   sibling packages into one policy.Decision. Checks run in a fixed order and
#   the first that fails names the stable reason; a request passing every
#   check is allowed with reason "allowed". Anything undefined is a deny.
package mcp.authz

import data.mcp.authz.audience
import data.mcp.authz.connections
import data.mcp.authz.delegation
import data.mcp.authz.dpop
import data.mcp.authz.manifest
import data.mcp.authz.methods
import data.mcp.authz.ratelimits
import data.mcp.authz.roles
import data.mcp.authz.scopes
import data.mcp.authz.tenants
import data.mcp.authz.tools
import data.mcp.authz.workloads

# METADATA
# title: Decision
# description: >-
#   The decision object: allow, reason and, as the reason calls for,
#   jsonrpc_error, http_status and challenge, with dynamic_metadata for Envoy
#   and, on allow, the rate limits the request is counted against.
# entrypoint: true
default decision := {"allow": false, "reason": "policy_denied"}

decision := object.union_n([
	{"allow": allow, "reason": reason, "dynamic_metadata": metadata},
	rpc_error,
	step_up,
	dpop_challenge,
	connection,
	rate_limits,
])

# METADATA
# title: Allow
# description: True only when every check passed.
allow := reason == "allowed"

# METADATA
# title: Reason
# description: >-
#   The first failing check (checks_reason); a call passing every check
#   but lacking a third-party connection it needs is connection_required.
reason := "connection_required" if {
	checks_reason == "allowed"
	connections.needed
} else := checks_reason

# METADATA
# title: Checks reason
# description: >-
#   The first failing check: audience, the issuer's DPoP requirement, the
#   delegation chain's depth and current actor (may_act), the server's
#   workloads, method, then for tools/call the tool checks (tool_reason);
#   other requests are checked for the tenant.
checks_reason := "audience_mismatch" if {
	not audience.allowed
} else := "dpop_required" if {
	not dpop.issuer_allowed
} else := "delegation_too_deep" if {
	not delegation.depth_allowed
} else := "actor_not_allowed" if {
	not delegation.actor_allowed
} else := "workload_not_allowed" if {
	not workloads.server_allowed
} else := "unknown_method" if {
	not methods.allowed
	not methods.tool_call
} else := tool_reason if {
	methods.tool_call
} else := "tenant_mismatch" if {
	not tenants.allowed
} else := "allowed"

# METADATA
# title: Tool reason
# description: >-
#   The first failing check of a tools/call: registered, the tool's DPoP
#   requirement, the tool's workloads, manifest approved, not drifted (a live
#   definition advertising a wrong contentHash is content_hash_mismatch),
#   tenant, role (invalid_roles_claim when the token's roles claim had the
#   wrong shape, so no role could be read), scopes, arguments.
tool_reason := "tool_not_registered" if {
	not tools.registered
} else := "dpop_required" if {
	not dpop.tool_allowed
} else := "workload_not_allowed" if {
	not workloads.tool_allowed
} else := "manifest_not_approved" if {
	not manifest.approved
} else := "content_hash_mismatch" if {
	manifest.content_hash_mismatch
} else := "manifest_drift" if {
	manifest.drifted
} else := "tenant_mismatch" if {
	not tenants.allowed
} else := "invalid_roles_claim" if {
	not roles.allowed
	roles.claim_invalid
} else := "tool_not_allowed" if {
	not roles.allowed
} else := "insufficient_scope" if {
	not scopes.allowed
} else := "invalid_arguments" if {
	not tools.arguments_valid
} else := "allowed"

# METADATA
# title: Forbidden
# description: The JSON-RPC error of a policy deny.
forbidden := {"code": -32003, "message": "Forbidden by policy"}

# METADATA
# title: Invalid params
# description: The JSON-RPC error of invalid_arguments; never echoes the arguments.
invalid_params := {"code": -32602, "message": "Invalid params"}

# METADATA
# title: JSON-RPC error
# description: The jsonrpc_error member of a denied JSON-RPC request (one with an id).
default rpc_error := {}

rpc_error := {"jsonrpc_error": invalid_params} if {
	denied_request
	reason == "invalid_arguments"
} else := {"jsonrpc_error": forbidden} if {
	denied_request
}

# METADATA
# title: Denied request
# description: True when a JSON-RPC request (not a notification or response) is denied.
denied_request if {
	not allow
	input.mcp.kind == "request"
}

# METADATA
# title: Step-up
# description: The 403 and insufficient_scope challenge naming the scopes to ask for.
default step_up := {}

step_up := {
	"http_status": 403,
	"challenge": {
		"error": "insufficient_scope",
		"error_description": "Additional scope required",
		"scope": scopes.challenge_scope,
	},
} if {
	reason == "insufficient_scope"
}

# METADATA
# title: DPoP challenge
# description: >-
#   The 401 and invalid_token challenge of dpop_required: the client must
#   present a DPoP-bound token (RFC 9449).
default dpop_challenge := {}

dpop_challenge := {
	"http_status": 401,
	"challenge": {
		"scheme": "DPoP",
		"error": "invalid_token",
		"error_description": "DPoP-bound token required",
	},
} if {
	reason == "dpop_required"
}

# METADATA
# title: Rate limits
# description: >-
#   The rate_limits member of an allowed, counted request: the limits and
#   budgets of ratelimits.limits (none: nothing is counted).
default rate_limits := {}

rate_limits := {"rate_limits": ratelimits.limits} if {
	allow
	ratelimits.counted
	count(ratelimits.limits) > 0
}

# METADATA
# title: Dynamic metadata
# description: >-
#   Returned to Envoy for access logs and its global rate-limit service's
#   descriptors: the subject (as sub and user), the method, the tenant when
#   the token names one, for a tools/call the canonical tool id, and
#   roles_error when the token's roles claim was ignored (visible even when
#   the request is allowed).
metadata := object.union_n([
	{
		"sub": object.get(input, ["principal", "sub"], ""),
		"user": object.get(input, ["principal", "sub"], ""),
		"method": object.get(input, ["mcp", "method"], ""),
	},
	tenant_metadata,
	tool_metadata,
	roles_metadata,
])

# METADATA
# title: Tenant metadata
# description: The tenant member of the dynamic metadata, when the token names a tenant.
default tenant_metadata := {}

tenant_metadata := {"tenant": tenants.tenant} if is_string(tenants.tenant)

# METADATA
# title: Tool metadata
# description: The tool_id member of the dynamic metadata of a tools/call.
default tool_metadata := {}

tool_metadata := {"tool_id": tools.id} if methods.tool_call

# METADATA
# title: Roles metadata
# description: The roles_error member of the dynamic metadata when the roles claim was ignored.
default roles_metadata := {}

roles_metadata := {"roles_error": "invalid_roles_claim"} if roles.claim_invalid

# METADATA
# title: Connection
# description: >-
#   needs_connection for connection_required (the service answers with a
#   URL-mode elicitation), connections (the providers whose credentials go
#   upstream) for an allowed call that needs any.
default connection := {}

connection := {"needs_connection": connections.needed} if {
	reason == "connection_required"
} else := {"connections": connections.providers} if {
	allow
	count(connections.providers) > 0
}
