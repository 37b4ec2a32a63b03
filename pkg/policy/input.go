package policy

import "encoding/json"

// Input is the one input document every policy sees, as `input` in Rego.
// Its JSON form (the json tags) is the contract with policy authors: it is
// documented in the README ("The input document") and by the JSON Schema in
// pkg/policy/schema/input.schema.json, and a field is never renamed once released.
// Later capabilities add fields; they never change the meaning of one.
//
// Credentials never reach the input: the Authorization, DPoP, Cookie and
// Proxy-Authorization headers are removed from HTTP.Headers, and the raw token
// is not included anywhere (its verified claims are in Principal).
type Input struct {
	// HTTP is the HTTP request as Envoy saw it.
	HTTP HTTP `json:"http"`
	// MCP is the parsed MCP message; for a GET or DELETE it carries only the
	// revision and session, with Kind "none".
	MCP MCP `json:"mcp"`
	// Principal is the verified caller from the access token.
	Principal Principal `json:"principal"`
	// Workload is the calling workload's mTLS identity, when Envoy reports one.
	Workload Workload `json:"workload"`
	// Resource is this hop: the protected resource the token must be for.
	Resource Resource `json:"resource"`
	// Tool is the registry's view of the called tool (tools/call only):
	// whether it is registered and approved, and whether the arguments match
	// the approved input schema. Computed in Go before evaluation.
	Tool *Tool `json:"tool,omitempty"`
	// List is a list result to filter (ext_proc only, data.mcp.list): the
	// items the upstream listed, judged as if the caller used each one.
	List *List `json:"list,omitempty"`
	// Output is a tools/call result to judge (ext_proc only, data.mcp.output).
	Output *Output `json:"output,omitempty"`
	// Request carries request-level facts: Envoy's request id and the time.
	Request Request `json:"request"`
	// Connections are the caller's third-party connections, by provider
	// name, for every configured provider (absent when none is configured).
	// Never the credentials themselves.
	Connections map[string]Connection `json:"connections,omitempty"`
}

// HTTP is the request line and headers.
type HTTP struct {
	// Method is the HTTP method, upper case (POST, GET, DELETE).
	Method string `json:"method"`
	// Path is the request path as sent, without the query string (a query
	// may carry credentials, and MCP does not use one).
	Path string `json:"path"`
	// Host is the :authority (Host) the client used.
	Host string `json:"host"`
	// Scheme is the scheme Envoy reports (inside a sidecar often "http").
	Scheme string `json:"scheme"`
	// Headers are the request headers, lower-cased names, repeated values
	// joined with ", ", credentials removed.
	Headers map[string]string `json:"headers"`
}

// MCP is the parsed JSON-RPC message.
type MCP struct {
	// Revision is the MCP protocol revision of the request (2025-06-18,
	// 2025-11-25, 2026-07-28).
	Revision string `json:"revision"`
	// Kind is "request", "notification", "response" or "none" (GET/DELETE).
	Kind string `json:"kind"`
	// Method is the JSON-RPC method ("" for a response or none).
	Method string `json:"method"`
	// KnownMethod is true when Method is defined by Revision.
	KnownMethod bool `json:"known_method"`
	// ID is the request id as JSON (a number or a string), byte-exact; absent
	// for notifications.
	ID json.RawMessage `json:"id,omitempty"`
	// Name is params.name (tools/call, prompts/get) or params.uri
	// (resources/read, resources/subscribe): what Mcp-Name carries.
	Name string `json:"name,omitempty"`
	// Tool is params.name of a tools/call.
	Tool string `json:"tool,omitempty"`
	// Arguments are params.arguments of a tools/call or prompts/get.
	Arguments map[string]any `json:"arguments,omitempty"`
	// SessionID is the Mcp-Session-Id header (older revisions).
	SessionID string `json:"session_id,omitempty"`
}

// Principal is the verified identity of the caller.
type Principal struct {
	// Subject is the token's sub.
	Subject string `json:"sub"`
	// Issuer is the token's iss.
	Issuer string `json:"iss"`
	// Audience is the token's aud, always a list.
	Audience []string `json:"aud"`
	// Scopes are the space-separated scope (or scp) claim, split.
	Scopes []string `json:"scopes"`
	// Roles are read from the configured roles claim.
	Roles []string `json:"roles"`
	// RolesError is "invalid_roles_claim" when the roles claim had another
	// shape than roles_claim_format (Roles is then empty); absent otherwise.
	RolesError string `json:"roles_error,omitempty"`
	// ClientID is azp or client_id: the OAuth client acting for Subject.
	ClientID string `json:"client_id,omitempty"`
	// TokenType is "Bearer" or "DPoP": how the token was presented.
	TokenType string `json:"token_type"`
	// Claims are all of the token's claims.
	Claims map[string]any `json:"claims"`
	// Act is the verified delegation chain of this request, current actor
	// first: the calling workload's SPIFFE ID (else the client id), then the
	// token's RFC 8693 act chain, outermost first. Authorization uses the
	// subject and act[0]; later entries are prior actors, informational
	// except for the chain's length. Never null; empty when no actor is known.
	Act []Actor `json:"act"`
	// MayAct is the token's may_act claim (RFC 8693 section 4.4): who may
	// act for the subject. Absent when the token has none.
	MayAct *Actor `json:"may_act,omitempty"`
}

// Actor is one party of a delegation chain: its identity claims.
type Actor struct {
	// Subject is the actor's sub (a SPIFFE ID, a client id, a user).
	Subject string `json:"sub"`
	// Issuer is the actor's iss, when known.
	Issuer string `json:"iss,omitempty"`
	// ClientID is the actor's client_id, when known.
	ClientID string `json:"client_id,omitempty"`
}

// Workload is the mTLS identity of the calling workload.
type Workload struct {
	// Principal is Envoy's source.principal: in Istio, the SPIFFE ID.
	Principal string `json:"principal,omitempty"`
	// URISANs are the peer certificate's URI SANs when Envoy sends them.
	URISANs []string `json:"uri_sans,omitempty"`
}

// Resource is the hop the request is for.
type Resource struct {
	// ID is the resource identifier (RFC 8707) tokens must carry in aud.
	ID string `json:"id"`
	// Server is the registry name of the upstream MCP server of this hop.
	Server string `json:"server,omitempty"`
}

// Tool is the registry's verdict on a tools/call's tool.
type Tool struct {
	// ID is the canonical tool id "<server>/<tool>".
	ID string `json:"id"`
	// Registered is true when the hop's registry lists the tool.
	Registered bool `json:"registered"`
	// Approved is true when the tool has an approved manifest hash.
	Approved bool `json:"approved"`
	// Drifted is true when drift watch saw a live manifest that differs.
	Drifted bool `json:"drifted"`
	// DriftReason says why when Drifted: "changed", "removed",
	// "unverified" (never listed yet) or "content_hash_mismatch" (the live
	// definition advertises a contentHash that is not its own).
	DriftReason string `json:"drift_reason,omitempty"`
	// ArgumentsValid is true when the arguments match the approved schema.
	ArgumentsValid bool `json:"arguments_valid"`
	// ArgumentsError names the failing JSON path when they do not (never the value).
	ArgumentsError string `json:"arguments_error,omitempty"`
	// Annotations are the MCP tool annotation hints (readOnlyHint,
	// destructiveHint, idempotentHint, openWorldHint) of the approved,
	// pinned manifest: only those it sets to a boolean, and only for an
	// approved tool. Never from the request or a live tools/list, so a
	// server cannot relabel a destructive tool as read-only.
	Annotations map[string]bool `json:"annotations,omitempty"`
}

// Request carries request-level facts.
type Request struct {
	// ID is Envoy's x-request-id.
	ID string `json:"id,omitempty"`
	// Time is the decision time, RFC 3339, from the server's clock.
	Time string `json:"time"`
}

// List is a list result the response processor asks data.mcp.list about.
type List struct {
	// Method is the list method: tools/list, prompts/list, resources/list
	// or resources/templates/list.
	Method string `json:"method"`
	// Tools are the listed tools of a tools/list, by name, each with the
	// registry's verdict as a tools/call of it would get (arguments count
	// as valid: a list has none).
	Tools map[string]Tool `json:"tools,omitempty"`
	// Names are the listed prompt names, resource URIs or resource URI
	// templates of the other list methods.
	Names []string `json:"names,omitempty"`
}

// Output is a tools/call result the response processor asks
// data.mcp.output about.
type Output struct {
	// Tool is the canonical id "<server>/<tool>" of the called tool.
	Tool string `json:"tool"`
	// Result is the JSON-RPC result object as the upstream sent it
	// (content, structuredContent, isError, _meta).
	Result map[string]any `json:"result"`
}
