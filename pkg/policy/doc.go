// Package policy embeds OPA to decide MCP requests.
//
// It exists so that the rest of mcp-authz sees one small, safe surface over a
// large library: a bundle is checked (data against a JSON Schema, Rego
// type-checked against the input schema, unsafe built-ins refused, the
// registry loaded) and prepared ONCE when it activates; every request then
// evaluates the prepared query against an immutable snapshot loaded from an
// atomic pointer, under a deadline, with a pre-built ast.Value input. Anything
// the policy returns is decoded strictly: a malformed decision is a deny
// (policy_error), never a silent allow.
//
// Only OPA's v1 packages are used; the root packages are its deprecated v0 API.
package policy
