package mcp.authz.connections_test

import data.mcp.authz.connections

servers := {"crm": {
	"resource": "https://crm.example.test/mcp",
	"connections": [{"provider": "crm"}],
	"tools": {
		"send_mail": {"manifest": {"name": "send_mail"}, "connections": [{"provider": "mail", "scopes": ["mail.send"]}]},
		"ping_crm": {"manifest": {"name": "ping_crm"}},
	},
}}

call(tool, conns) := {
	"resource": {"server": "crm"},
	"mcp": {"kind": "request", "method": "tools/call", "tool": tool},
	"connections": conns,
}

connected(scopes) := {"connected": true, "scopes": scopes}

test_server_and_tool_connections_required if {
	r := connections.required with input as call("send_mail", {}) with data.mcp.servers as servers
	r == [{"provider": "crm"}, {"provider": "mail", "scopes": ["mail.send"]}]
}

test_first_missing_is_needed if {
	n := connections.needed with input as call("send_mail", {"crm": connected([])}) with data.mcp.servers as servers
	n == {"provider": "mail", "scopes": ["mail.send"]}
}

test_missing_scope_is_needed if {
	conns := {"crm": connected([]), "mail": connected(["mail.read"])}
	n := connections.needed with input as call("send_mail", conns) with data.mcp.servers as servers
	n.provider == "mail"
}

test_stale_is_needed if {
	conns := {"crm": {"connected": false, "scopes": []}}
	n := connections.needed with input as call("ping_crm", conns) with data.mcp.servers as servers
	n == {"provider": "crm", "scopes": []}
}

test_all_usable_nothing_needed if {
	conns := {"crm": connected([]), "mail": connected(["mail.read", "mail.send"])}
	not connections.needed with input as call("send_mail", conns) with data.mcp.servers as servers
	p := connections.providers with input as call("send_mail", conns) with data.mcp.servers as servers
	p == ["crm", "mail"]
}

test_other_methods_need_nothing if {
	req := object.union(call("", {}), {"mcp": {"method": "tools/list", "tool": ""}})
	connections.required == [] with input as req with data.mcp.servers as servers
	prompt := object.union(call("", {}), {"mcp": {"method": "prompts/get", "tool": ""}})
	connections.required == [{"provider": "crm"}] with input as prompt with data.mcp.servers as servers
}
