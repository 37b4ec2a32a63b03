# METADATA
# title: Tenants
# description: >-
#   Tenant isolation. The token's tenant is the claim named by
#   data.mcp.settings.tenant_claim (default "tenant"); data.mcp.tenants[tenant].servers
#   lists the servers that tenant may reach. A token without the claim is
#   judged by the other rules alone unless data.mcp.settings.require_tenant is
#   true. When data.mcp.tenants is empty no tenant is restricted; once any
#   tenant is listed, a tenant that is not listed reaches nothing.
package mcp.authz.tenants

# METADATA
# title: Tenant claim name
# description: The token claim that names the caller's tenant.
default claim_name := "tenant"

claim_name := data.mcp.settings.tenant_claim

# METADATA
# title: Tenant required
# description: True when data.mcp.settings.require_tenant is true.
default required := false

required := data.mcp.settings.require_tenant == true

# METADATA
# title: Has tenant
# description: True when the token carries the tenant claim (with any value).
has_claim if _ = input.principal.claims[claim_name]

# METADATA
# title: Tenant
# description: The value of the token's tenant claim.
tenant := input.principal.claims[claim_name]

# METADATA
# title: Tenancy configured
# description: True when data.mcp.tenants lists at least one tenant.
configured if count(data.mcp.tenants) > 0

# METADATA
# title: Tenant allowed
# description: >-
#   True when the token has no tenant claim and none is required, when tenancy
#   is not configured and not required, or when the caller's tenant lists this
#   hop's server.
# scope: document
allowed if {
	not has_claim
	not required
}

allowed if {
	not configured
	not required
}

allowed if input.resource.server in data.mcp.tenants[tenant].servers
