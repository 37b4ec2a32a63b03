package mcp.authz.methods_test

import data.mcp.authz.methods

msg(kind, method, known) := {
	"http": {"method": "POST"},
	"mcp": {"revision": "2025-11-25", "kind": kind, "method": method, "known_method": known},
}

bodyless(http_method, revision) := {
	"http": {"method": http_method},
	"mcp": {"revision": revision, "kind": "none", "method": "", "known_method": false},
}

test_allow_known_request if {
	every method in ["initialize", "ping", "tools/list", "resources/read", "prompts/get", "completion/complete"] {
		methods.allowed with input as msg("request", method, true)
	}
}

test_allow_known_notification if {
	methods.allowed with input as msg("notification", "notifications/initialized", true)
}

test_allow_response if {
	methods.allowed with input as msg("response", "", false)
}

test_allow_get_stream_and_delete_session if {
	every http_method in ["GET", "DELETE"] {
		every revision in ["2025-06-18", "2025-11-25"] {
			methods.allowed with input as bodyless(http_method, revision)
		}
	}
}

test_deny_unknown_method if {
	not methods.allowed with input as msg("request", "tools/execute", false)
}

test_deny_unknown_notification if {
	not methods.allowed with input as msg("notification", "notifications/whatever", false)
}

test_allow_tools_call_request_is_a_tool_call if {
	methods.tool_call with input as msg("request", "tools/call", true)
}

test_deny_tools_call_left_to_tool_checks if {
	not methods.allowed with input as msg("request", "tools/call", true)
}

test_deny_tools_call_notification if {
	not methods.allowed with input as msg("notification", "tools/call", true)
	not methods.tool_call with input as msg("notification", "tools/call", true)
}

test_deny_other_method_is_not_a_tool_call if {
	not methods.tool_call with input as msg("request", "tools/list", true)
}

test_deny_response_with_method if {
	not methods.allowed with input as msg("response", "tools/list", false)
}

test_deny_bodyless_other_http_method if {
	not methods.allowed with input as bodyless("PUT", "2025-11-25")
}

test_deny_bodyless_stateless_revision if {
	not methods.allowed with input as bodyless("GET", "2026-07-28")
}

test_deny_bodyless_with_method if {
	not methods.allowed with input as object.union(bodyless("GET", "2025-11-25"), {"mcp": {"method": "ping"}})
}

test_deny_kind_missing if {
	not methods.allowed with input as {"mcp": {"method": "ping", "known_method": true}}
}
