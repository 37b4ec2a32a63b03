# METADATA
# title: Delegation
# description: >-
#   RFC 8693 delegation chains. input.principal.act is the request's chain,
#   current actor first: the calling workload (else the OAuth client), then the
#   token's own act chain, outermost first. A chain longer than
#   data.mcp.settings.max_delegation_depth (default 4) is refused, and so is a
#   current actor that the token's may_act does not name. Prior actors are
#   informational (RFC 8693 section 4.1): authorization uses the subject and
#   the current actor only.
package mcp.authz.delegation

# METADATA
# title: Default depth
# description: The longest chain allowed when the data sets none.
default_max_depth := 4

# METADATA
# title: Maximum depth
# description: data.mcp.settings.max_delegation_depth, else default_max_depth.
max_depth := d if {
	d := data.mcp.settings.max_delegation_depth
} else := default_max_depth

# METADATA
# title: Chain
# description: >-
#   The delegation chain, current actor first; absent or null is an empty
#   chain, anything else but a list leaves it undefined (and so denied).
chain := c if {
	c := object.get(input, ["principal", "act"], [])
	is_array(c)
} else := [] if {
	object.get(input, ["principal", "act"], []) == null
}

# METADATA
# title: Depth allowed
# description: True when the chain is no longer than max_depth.
depth_allowed if count(chain) <= max_depth

# METADATA
# title: May act
# description: The token's may_act claim, when it has one.
may_act := input.principal.may_act

# METADATA
# title: Actor allowed
# description: >-
#   True when the token names no may_act, or the current actor (chain[0]) is
#   the one it names: same sub, and the same iss when both name one. A token
#   with may_act and no known actor is refused.
# scope: document
actor_allowed if not may_act

actor_allowed if {
	current := chain[0]
	current.sub == may_act.sub
	same_issuer(current, may_act)
}

# METADATA
# title: Same issuer
# description: True unless both name an iss and the two differ.
# scope: document
same_issuer(a, _) if not a.iss

same_issuer(_, b) if not b.iss

same_issuer(a, b) if a.iss == b.iss
