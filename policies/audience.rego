# METADATA
# title: Audience
# description: >-
#   Defence in depth for RFC 8707 resource indicators: the token must have been
#   minted for this hop. pkg/identity already checks the audience; this rule keeps
#   a policy bundle safe on its own, even if that check were misconfigured.
package mcp.authz.audience

# METADATA
# title: Audience matches
# description: >-
#   True when the token's aud list contains this hop's resource identifier
#   (input.resource.id), which must not be empty.
allowed if {
	input.resource.id != ""
	input.resource.id in input.principal.aud
}
