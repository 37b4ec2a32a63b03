// Package mcp parses the JSON-RPC 2.0 messages of the Model Context Protocol
// (MCP) Streamable HTTP transport, strictly, so that mcp-authz judges exactly
// the message the upstream MCP server will execute.
//
// Why strict: the authorizer and the upstream server read the same bytes with
// different JSON decoders. Where decoders disagree (duplicate member names,
// which the MCP SDKs resolve last-wins; member names that differ only in case,
// which Go's encoding/json struct decoding matches case-insensitively; lone
// surrogates; invalid UTF-8; trailing data; JSON-RPC batches, which the
// TypeScript SDK still executes) an attacker can show the policy one tool call
// and have the server run another. Parse refuses every such body instead of
// guessing which reading the server will pick, so a body it accepts has one
// meaning for every decoder mcp-authz is deployed in front of.
//
// The decoder is our own single-pass tokenizer over the body (no
// encoding/json), bounded by Limits, that never panics on input and only
// materialises the parts the policy needs: method, id, the tool or resource
// name, the arguments and the protocol version.
//
// The package also holds the per-revision tables of known methods, the
// revision selection for a POST, and the 2026-07-28 routing-header checks
// (MCP-Protocol-Version, Mcp-Method, Mcp-Name must equal the body).
package mcp
