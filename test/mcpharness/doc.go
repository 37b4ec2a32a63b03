// Package mcpharness is the test-only harness for end-to-end runs with real
// MCP software: an upstream MCP server built with the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) serving the tools the registry
// approves, mcp-authz itself (pkg/app) on loopback gRPC, the Envoy-shaped
// gate of test/envoyshim between them, and clients that carry a bearer or
// DPoP-bound token per role. Tests elsewhere (per-hop tokens, elicitation,
// ext_proc) reuse it: StartStack gives the whole request path in one call,
// and each piece can be started on its own.
package mcpharness
