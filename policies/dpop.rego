# METADATA
# title: DPoP
# description: >-
#   Proof-of-possession requirements (RFC 9449). A token whose issuer is listed
#   in data.mcp.settings.dpop_required_issuers must be presented as a DPoP-bound
#   token on every request; a tool whose registry entry sets require_dpop must
#   be called with one, and so must every destructive tool (by its pinned
#   annotations) when data.mcp.settings.destructive_tools.require_dpop is true. Go has already verified the DPoP proof and reports how
#   the token was presented in input.principal.token_type ("Bearer" or "DPoP").
#   Nothing is required by default.
package mcp.authz.dpop

import data.mcp.authz.annotations
import data.mcp.authz.tools

# METADATA
# title: Issuers requiring DPoP
# description: The issuers listed in data.mcp.settings.dpop_required_issuers (none by default).
required_issuers contains issuer if some issuer in data.mcp.settings.dpop_required_issuers

# METADATA
# title: Bound
# description: True when the token was presented DPoP-bound (token_type "DPoP", exactly).
bound if input.principal.token_type == "DPoP"

# METADATA
# title: Issuer requires DPoP
# description: >-
#   True when the token's issuer is listed, or when any issuer is listed and the
#   token's iss is absent or not a string (fail closed).
# scope: document
issuer_required if input.principal.iss in required_issuers

issuer_required if {
	count(required_issuers) > 0
	not is_string(object.get(input, ["principal", "iss"], null))
}

# METADATA
# title: Issuer requirement met
# description: True unless the issuer requires DPoP and the token is not DPoP-bound.
# scope: document
issuer_allowed if not issuer_required

issuer_allowed if bound

# METADATA
# title: Tool requires DPoP
# description: >-
#   True when the called tool's registry entry sets require_dpop to true, or
#   the tool is destructive and destructive_tools.require_dpop is true.
# scope: document
tool_required if tools.entry.require_dpop == true

tool_required if {
	annotations.destructive
	data.mcp.settings.destructive_tools.require_dpop == true
}

# METADATA
# title: Tool requirement met
# description: True unless the called tool requires DPoP and the token is not DPoP-bound.
# scope: document
tool_allowed if not tool_required

tool_allowed if bound
