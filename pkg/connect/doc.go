// Package connect gives every MCP server behind mcp-authz user-scoped
// third-party credentials through URL-mode elicitation: it tells the policy
// which providers a caller has connected (never the tokens), answers a call
// that needs a connection with an elicitation whose URL opens the connect flow
// on the public listener, runs that flow (log in at the same issuer as the
// same subject, then the provider's OAuth code flow or an API-key form) and
// hands an allowed request's credentials to the upstream in the provider's
// header. The credential never passes through the MCP client or the model.
package connect
