// Package upstream decides what an allowed request carries to the upstream
// MCP server in place of the caller's token: a short-lived token this
// service mints for the one call (signed with keys from files, published as
// a JWKS), or one obtained from an external security token service by RFC
// 8693 token exchange.
//
// The MCP authorization spec forbids token passthrough: an upstream that
// receives the user's own token can replay it anywhere that token is
// accepted (the confused deputy). A minted token names exactly one audience
// (the upstream), one call's scope and, in act (RFC 8693 section 4.1), the
// delegation chain that led to the call, and it expires within minutes.
//
// The package is a leaf of the decision path: it imports identity for the
// Actor type and nothing of extauthz or policy; extauthz declares the small
// interface it consumes and app wires it.
package upstream
