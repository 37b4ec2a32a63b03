# METADATA
# title: Scopes
# description: >-
#   Per-tool OAuth scopes. data.mcp.servers[server].tools[tool].scopes lists
#   the scopes a tools/call of that tool needs; the token's scopes are
#   input.principal.scopes. A missing scope is an insufficient_scope deny with
#   a step-up challenge naming the scopes to ask for.
package mcp.authz.scopes

import data.mcp.authz.tools

# METADATA
# title: Required scopes
# description: The scopes the called tool needs (none when the registry lists none).
required contains scope if some scope in tools.entry.scopes

# METADATA
# title: Held scopes
# description: The token's scopes.
held contains scope if some scope in input.principal.scopes

# METADATA
# title: Missing scopes
# description: Required scopes the token does not hold.
missing := required - held

# METADATA
# title: Scopes sufficient
# description: True when the token holds every scope the tool needs.
allowed if count(missing) == 0

# METADATA
# title: Challenge scopes
# description: >-
#   The scopes the insufficient_scope challenge asks for: the missing ones plus
#   the held ones. 2026-07-28 clients accumulate scopes themselves, so there
#   the challenge names only the tool's required scopes (RFC 6750 section 3.1);
#   for 2025-06-18 and 2025-11-25 it adds the token's other well-formed scopes
#   so a client that replaces its scope set does not lose them.
needed := required if {
	input.mcp.revision == "2026-07-28"
} else := required | {scope | some scope in held; regex.match(`^[\x21\x23-\x5B\x5D-\x7E]+$`, scope)}

# METADATA
# title: Challenge scope value
# description: The challenge's scope parameter, space-separated and sorted.
challenge_scope := concat(" ", sort(needed))
