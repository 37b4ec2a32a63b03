# METADATA
# title: Tool output
# description: >-
#   Tool output is untrusted: the response processor asks data.mcp.output
#   about every tools/call result before the client (and its model) sees it.
#   A string anywhere in the result matching one of
#   data.mcp.settings.secret_patterns is redacted (the whole string is
#   replaced); one matching data.mcp.settings.blocked_output_patterns blocks
#   the result, which the client then gets as a JSON-RPC error with reason
#   output_blocked. Size and outputSchema checks run in Go before this rule.
package mcp.output

# METADATA
# title: Decision
# description: >-
#   The output decision: block (bool), reason (snake_case) and redact, the
#   paths (arrays of member names and indexes) of the strings to redact.
# entrypoint: true
decision := {"block": count(blocked) > 0, "reason": reason, "redact": [path | some path in redact]}

# METADATA
# title: Reason
# description: Why the result is blocked, or "allowed".
default reason := "allowed"

reason := "output_blocked" if count(blocked) > 0

# METADATA
# title: Secret patterns
# description: Regular expressions (RE2) of secrets to redact from tool output.
default secret_patterns := []

secret_patterns := data.mcp.settings.secret_patterns

# METADATA
# title: Blocked patterns
# description: Regular expressions (RE2) whose match anywhere blocks the whole result.
default blocked_patterns := []

blocked_patterns := data.mcp.settings.blocked_output_patterns

# METADATA
# title: Strings
# description: Every string in the result, with its path.
strings contains [path, value] if {
	walk(input.output.result, [path, value])
	is_string(value)
}

# METADATA
# title: Redact
# description: The paths of strings matching a secret pattern.
redact contains path if {
	some [path, value] in strings
	some pattern in secret_patterns
	regex.match(pattern, value)
}

# METADATA
# title: Blocked
# description: The paths of strings matching a blocked pattern.
blocked contains path if {
	some [path, value] in strings
	some pattern in blocked_patterns
	regex.match(pattern, value)
}
