package mcp.authz.manifest_test

import data.mcp.authz.manifest

hash := "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

servers := {"issues": {
	"resource": "https://mcp.example.test/mcp",
	"tools": {
		"search_issues": {"sha256": hash, "scopes": [], "manifest": {"name": "search_issues"}},
		"draft_tool": {"scopes": [], "manifest": {"name": "draft_tool"}},
		"bad_hash": {"sha256": upper(hash), "scopes": [], "manifest": {"name": "bad_hash"}},
	},
}}

call(tool, verdict) := {
	"resource": {"id": "https://mcp.example.test/mcp", "server": "issues"},
	"mcp": {"kind": "request", "method": "tools/call", "tool": tool},
	"tool": object.union({"id": concat("/", ["issues", tool]), "registered": true}, verdict),
}

test_allow_approved_hash_present if {
	manifest.approved with input as call("search_issues", {"approved": true})
		with data.mcp.servers as servers
}

test_deny_not_approved_in_go if {
	not manifest.approved with input as call("search_issues", {"approved": false})
		with data.mcp.servers as servers
}

test_deny_approved_without_hash if {
	not manifest.approved with input as call("draft_tool", {"approved": true})
		with data.mcp.servers as servers
}

test_deny_approved_with_malformed_hash if {
	not manifest.approved with input as call("bad_hash", {"approved": true})
		with data.mcp.servers as servers
}

test_deny_approved_verdict_missing if {
	not manifest.approved with input as call("search_issues", {})
		with data.mcp.servers as servers
}

test_allow_current_manifest if {
	manifest.current with input as call("search_issues", {"drifted": false})
	not manifest.drifted with input as call("search_issues", {"drifted": false})
}

test_deny_drifted_manifest if {
	manifest.drifted with input as call("search_issues", {"drifted": true})
	not manifest.current with input as call("search_issues", {"drifted": true})
}

test_deny_drift_verdict_missing if {
	manifest.drifted with input as call("search_issues", {})
}

test_allow_approved_content_hash_present if {
	manifest.approved with input as call("search_issues", {"approved": true})
		with data.mcp.servers as {"issues": {"resource": "r", "tools": {"search_issues": {
			"content_hash": "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			"manifest": {"name": "search_issues"},
		}}}}
}

test_deny_approved_with_malformed_content_hash if {
	not manifest.approved with input as call("search_issues", {"approved": true})
		with data.mcp.servers as {"issues": {"resource": "r", "tools": {"search_issues": {
			"content_hash": "sha256-AAAA",
			"manifest": {"name": "search_issues"},
		}}}}
}

test_deny_content_hash_mismatch if {
	manifest.content_hash_mismatch with input as call("search_issues", {"drifted": true, "drift_reason": "content_hash_mismatch"})
	not manifest.content_hash_mismatch with input as call("search_issues", {"drifted": true, "drift_reason": "changed"})
}
