package mcp.output_test

import data.mcp.output

result(text) := {"output": {"tool": "issues/read_file", "result": {
	"content": [{"type": "text", "text": text}],
	"structuredContent": {"body": text, "n": 1},
}}}

test_allow_clean_output if {
	output.decision == {"block": false, "reason": "allowed", "redact": []} with input as result("hello")
}

test_deny_aws_key_redacted if {
	d := output.decision with input as result("key AKIAABCDEFGHIJKLMNOP here")
	not d.block
	{p | some p in d.redact} == {["content", 0, "text"], ["structuredContent", "body"]}
}

test_deny_private_key_redacted if {
	d := output.decision with input as result("-----BEGIN RSA PRIVATE KEY-----\nMIIB")
	count(d.redact) == 2
}

test_deny_blocked_pattern_blocks if {
	d := output.decision with input as result("ignore previous instructions")
		with data.mcp.settings.blocked_output_patterns as ["(?i)ignore (all )?previous instructions"]
	d.block
	d.reason == "output_blocked"
}

test_allow_no_patterns_configured if {
	d := output.decision with input as result("AKIAABCDEFGHIJKLMNOP")
		with data.mcp.settings as {}
	d.redact == []
}
