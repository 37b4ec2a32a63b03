package policy

import (
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
)

// Decision is what a policy returns at data.mcp.authz.decision. Its JSON form
// is the contract with policy authors and is documented in the README ("The
// decision object"). Only Allow and Reason are required; every other field is
// optional and has a safe default, so later capabilities extend it without
// breaking existing policies. A result that is undefined, not an object, or
// has a field of the wrong type is a deny (policy_error).
type Decision struct {
	// Allow lets the request through when true. Nothing else does.
	Allow bool `json:"allow"`
	// Reason is a stable snake_case code, sent in x-mcp-authz-reason.
	Reason string `json:"reason"`
	// HTTPStatus overrides the deny's HTTP status (0: the default for the
	// situation). Ignored on allow.
	HTTPStatus int `json:"http_status,omitempty"`
	// RPCError overrides the JSON-RPC error of a deny (nil: the default).
	RPCError *RPCError `json:"jsonrpc_error,omitempty"`
	// Challenge asks for a WWW-Authenticate challenge on a deny, e.g.
	// insufficient_scope with the scopes needed (step-up).
	Challenge *Challenge `json:"challenge,omitempty"`
	// UpstreamHeaders are set on the request forwarded upstream (allow only),
	// overwriting any client-sent copy.
	UpstreamHeaders map[string]string `json:"upstream_headers,omitempty"`
	// ResponseHeaders are added to the response sent to the client.
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	// DynamicMetadata is returned to Envoy as ext_authz dynamic metadata.
	DynamicMetadata map[string]any `json:"dynamic_metadata,omitempty"`
	// UpstreamToken asks for a token minted for this request (allow only)
	// and shapes it: audience, scope, lifetime and extra claims. On a hop in
	// exchange mode its audience and scope go to the token service.
	UpstreamToken *UpstreamToken `json:"upstream_token,omitempty"`
	// Remediation, on a deny, names what would let the call through (a URL
	// or a connection). With deny_format tool_result it is the structured
	// denial's remediation hint; without it the remediation is
	// "undisclosed". Ignored on allow and in the jsonrpc_error format.
	Remediation *Remediation `json:"remediation,omitempty"`
	// NeedsConnection asks the caller to connect a provider first: the
	// service answers with a URL-mode elicitation (never forwards), whatever
	// Allow says.
	NeedsConnection *NeedsConnection `json:"needs_connection,omitempty"`
	// Connections (allow only) name the providers whose stored credential
	// goes upstream in the provider's header. One the caller lacks turns the
	// allow into an elicitation for it.
	Connections []string `json:"connections,omitempty"`
	// RateLimits names the rate limits and budgets an allowed request is
	// counted against, each with its partition key (see the README's "Rate
	// limits and budgets"). They are checked after the decision, so a
	// denied request spends nothing; ignored on deny.
	RateLimits []RateLimit `json:"rate_limits,omitempty"`
	// Meta is what the engine knows about how this decision was made, for
	// the decision log and traces. Never part of the policy's result: a
	// policy cannot set it. Decide fills it on errors too, once a revision
	// was chosen.
	Meta Meta `json:"-"`
}

// Meta describes the evaluation behind a decision.
type Meta struct {
	// Revision is the bundle revision that decided.
	Revision string
	// ManifestHash is the approved manifest hash of the called tool.
	ManifestHash string
	// ArgumentRules mask the tool's arguments in the decision log (the
	// bundle's data.mcp.decision_log.arguments); nil: erase them.
	ArgumentRules []decisionlog.MaskRule
	// Registry is the time the registry checks took.
	Registry time.Duration
	// Cached is true when the decision came from the revision's decision
	// cache (the same input projection was evaluated before).
	Cached bool
}

// RateLimit is one limit a request is counted against: a Rate or a Budget.
type RateLimit struct {
	// Name is the limit's snake_case name (a metric label, the
	// RateLimit-Policy name); never a user.
	Name string `json:"name"`
	// Key is the partition counted, e.g. "user=https://issuer bob".
	Key string `json:"key"`
	// Rate limits requests per window with a burst (GCRA).
	Rate *Rate `json:"rate,omitempty"`
	// Budget limits cost units per fixed window.
	Budget *Budget `json:"budget,omitempty"`
	// Cost is the units this request charges to the Budget (default 0).
	Cost int64 `json:"cost,omitempty"`
}

// Rate is a sustained rate with a burst.
type Rate struct {
	// Requests allowed per Window, sustained.
	Requests int64 `json:"requests"`
	// Window in seconds.
	Window int64 `json:"window"`
	// Burst is how many requests may arrive at once (0: Requests).
	Burst int64 `json:"burst,omitempty"`
}

// Budget is a quota of cost units per fixed window, aligned to the Unix
// epoch (a 86400-second window resets at 00:00 UTC).
type Budget struct {
	// Units available per Window.
	Units int64 `json:"units"`
	// Window in seconds.
	Window int64 `json:"window"`
}

// RPCError is a JSON-RPC error code and message.
type RPCError struct {
	// Code is the JSON-RPC error code.
	Code int `json:"code"`
	// Message is a short human-readable message; never echoes input.
	Message string `json:"message"`
}

// Challenge describes a WWW-Authenticate challenge.
type Challenge struct {
	// Scheme is "Bearer" (default, RFC 6750) or "DPoP" (RFC 9449 §7.1: the
	// challenge then lists the accepted proof algorithms).
	Scheme string `json:"scheme,omitempty"`
	// Error is the RFC 6750 error code (invalid_token, insufficient_scope).
	Error string `json:"error"`
	// Description is error_description.
	Description string `json:"error_description,omitempty"`
	// Scope lists the scopes needed, space-separated.
	Scope string `json:"scope,omitempty"`
}
