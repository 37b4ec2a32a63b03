package mcp.authz.audience_test

import data.mcp.authz.audience

resource := "https://mcp.example.test/mcp"

test_allow_aud_contains_resource if {
	audience.allowed with input as {
		"resource": {"id": resource},
		"principal": {"aud": ["https://other.example.test/mcp", resource]},
	}
}

test_deny_aud_for_other_resource if {
	not audience.allowed with input as {
		"resource": {"id": resource},
		"principal": {"aud": ["https://other.example.test/mcp"]},
	}
}

test_deny_aud_missing if {
	not audience.allowed with input as {"resource": {"id": resource}, "principal": {}}
}

test_deny_empty_resource_id if {
	not audience.allowed with input as {"resource": {"id": ""}, "principal": {"aud": [""]}}
}

test_deny_aud_prefix_only if {
	not audience.allowed with input as {
		"resource": {"id": resource},
		"principal": {"aud": ["https://mcp.example.test"]},
	}
}
