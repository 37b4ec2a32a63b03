package mcp.authz.tenants_test

import data.mcp.authz.tenants

tenants_data := {
	"acme": {"servers": ["issues"]},
	"globex": {"servers": ["wiki"]},
}

req(claims) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"principal": {"sub": "u", "claims": claims},
}

lax := {"require_tenant": false, "tenant_claim": "tenant"}

strict := {"require_tenant": true, "tenant_claim": "tenant"}

allowed(claims, settings, tenants_doc) if {
	tenants.allowed with input as req(claims)
		with data.mcp.settings as settings
		with data.mcp.tenants as tenants_doc
}

test_allow_tenant_lists_server if {
	allowed({"tenant": "acme"}, lax, tenants_data)
	allowed({"tenant": "acme"}, strict, tenants_data)
}

test_deny_tenant_without_server if {
	not allowed({"tenant": "globex"}, lax, tenants_data)
}

test_deny_unlisted_tenant if {
	not allowed({"tenant": "initech"}, lax, tenants_data)
}

test_deny_tenant_claim_not_a_string if {
	not allowed({"tenant": ["acme"]}, lax, tenants_data)
	not allowed({"tenant": null}, lax, tenants_data)
}

test_allow_no_claim_when_not_required if {
	allowed({"sub": "u"}, lax, tenants_data)
}

test_deny_no_claim_when_required if {
	not allowed({"sub": "u"}, strict, tenants_data)
}

test_allow_claim_when_tenancy_not_configured if {
	allowed({"tenant": "initech"}, lax, {})
}

test_deny_claim_when_required_and_not_configured if {
	not allowed({"tenant": "initech"}, strict, {})
}

test_allow_custom_claim_name if {
	settings := {"require_tenant": true, "tenant_claim": "org_id"}
	allowed({"org_id": "acme"}, settings, tenants_data)
	tenants.claim_name == "org_id" with data.mcp.settings as settings
}

test_deny_custom_claim_name_ignores_default_claim if {
	settings := {"require_tenant": false, "tenant_claim": "org_id"}
	not allowed({"org_id": "globex", "tenant": "acme"}, settings, tenants_data)
}

test_allow_default_claim_name if {
	tenants.claim_name == "tenant" with data.mcp.settings as {}
}

test_allow_settings_missing_defaults if {
	not tenants.required with data.mcp.settings as {}
	allowed({"sub": "u"}, {}, tenants_data)
}

test_deny_required_setting if {
	tenants.required with data.mcp.settings as strict
}

test_allow_has_claim if {
	tenants.has_claim with input as req({"tenant": "acme"}) with data.mcp.settings as lax
	tenants.tenant == "acme" with input as req({"tenant": "acme"}) with data.mcp.settings as lax
}

test_deny_has_claim_absent if {
	not tenants.has_claim with input as req({"sub": "u"}) with data.mcp.settings as lax
	not tenants.tenant with input as req({"sub": "u"}) with data.mcp.settings as lax
}

test_allow_configured if {
	tenants.configured with data.mcp.tenants as tenants_data
}

test_deny_configured_empty if {
	not tenants.configured with data.mcp.tenants as {}
}
