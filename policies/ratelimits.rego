# METADATA
# title: Rate limits and budgets
# description: >-
#   Which rate limits and cost budgets an allowed request is counted against,
#   from data.mcp.rate_limits: each limit is keyed by any combination of the
#   caller's user, tenant, client, roles and the tool's canonical id, with a
#   default and overrides matched in order. The Go limiter counts them after
#   the decision, so a denied request spends nothing.
package mcp.authz.ratelimits

import data.mcp.authz.tenants
import data.mcp.authz.tools

# METADATA
# title: Methods
# description: The JSON-RPC methods that are counted (default tools/call).
default methods := ["tools/call"]

methods := data.mcp.rate_limits.methods

# METADATA
# title: Counted
# description: True when the request's method is one the limits count.
counted if input.mcp.method in methods

# METADATA
# title: Dimensions
# description: >-
#   The request's value for each key dimension; undefined when the request
#   has none (a limit keyed by it then does not apply). A user is its issuer
#   and subject, so equal subjects of two issuers never share a count.
dims["user"] := concat(" ", [input.principal.iss, input.principal.sub]) if input.principal.sub != ""

dims["tenant"] := tenants.tenant if is_string(tenants.tenant)

dims["client"] := input.principal.client_id if input.principal.client_id != ""

dims["role"] := concat(",", sort(input.principal.roles)) if count(input.principal.roles) > 0

dims["tool"] := tools.id if input.mcp.method == "tools/call"

# METADATA
# title: Cost
# description: The units a tools/call charges to budgets, the registry tool's cost (default 1).
default cost := 1

cost := tools.entry.cost if input.mcp.method == "tools/call"

# METADATA
# title: Limits
# description: >-
#   Every configured limit that applies to this request, with its partition
#   key and the numbers of its first matching override. Object keys iterate in
#   order, so the list is stable.
limits := [l |
	some name, def in configured
	l := applied(name, def)
]

# METADATA
# title: Configured limits
# description: data.mcp.rate_limits.limits, keyed by limit name (none when absent).
default configured := {}

configured := data.mcp.rate_limits.limits

# METADATA
# title: Overrides
# description: data.mcp.rate_limits.overrides, matched in order (none when absent).
default overrides := []

overrides := data.mcp.rate_limits.overrides

applied(name, def) := object.union({"name": name, "key": key(def.by)}, kind(effective(name, def))) if {
	matches(object.get(def, "match", {}))
	every d in def.by {
		dims[d]
	}
	not effective(name, def).exempt
}

# key joins the dimensions' values: "user=<iss> <sub>&tool=issues/run_query";
# "*" for a limit shared by every request.
key(by) := "*" if count(by) == 0

key(by) := concat("&", [sprintf("%s=%s", [d, dims[d]]) | some d in by]) if count(by) > 0

kind(e) := {"rate": e.rate} if e.rate

kind(e) := {"budget": e.budget, "cost": cost} if e.budget

# effective is the first override of the limit whose match holds, else the
# limit itself.
effective(name, def) := candidates[0] if {
	candidates := [o |
		some o in overrides
		o.limit == name
		matches(object.get(o, "match", {}))
	]
	count(candidates) > 0
} else := def

# matches holds when every member of m equals the request's value: user is
# the subject, role any role the caller holds, the others their dimension.
matches(m) if {
	every k, v in m {
		matches_one(k, v)
	}
}

matches_one("user", v) if input.principal.sub == v

matches_one("role", v) if v in input.principal.roles

matches_one(k, v) if {
	not k in {"user", "role"}
	dims[k] == v
}
