// Package denial holds the stable reason codes of every deny mcp-authz makes
// and a typed error that carries one.
//
// A reason code is the single name a denial has everywhere: the
// x-mcp-authz-reason response header, the metric label and the decision-log
// field. Codes are snake_case and never change meaning once released, so
// dashboards and alerts built on them keep working. The package is a leaf: it
// imports nothing of ours, so every other package can use it.
package denial

import "errors"

// Reason is a stable snake_case code naming why a request was denied.
type Reason string

// Reasons produced by the HTTP view checks (pkg/extauthz).
const (
	PathNotFound       Reason = "path_not_found"
	MethodNotAllowed   Reason = "method_not_allowed"
	PartialBody        Reason = "partial_body"
	BodyTooLarge       Reason = "body_too_large"
	ContentLength      Reason = "content_length_mismatch"
	ContentEncoding    Reason = "unsupported_content_encoding"
	ContentType        Reason = "unsupported_content_type"
	OriginNotAllowed   Reason = "origin_not_allowed"
	ProtocolVersion    Reason = "unsupported_protocol_version"
	DuplicateHeader    Reason = "duplicate_header"
	InvalidHeaderValue Reason = "invalid_header_value"
	UnknownHop         Reason = "unknown_hop"
	ParseError         Reason = "parse_error"
	InvalidRequest     Reason = "invalid_request"
	InvalidParams      Reason = "invalid_params"
	UnexpectedBody     Reason = "unexpected_body"
	HeaderMismatch     Reason = "header_mismatch"
	// MCPMetadataMismatch: Envoy's MCP filter read the message differently
	// (its dynamic metadata disagrees with our parse).
	MCPMetadataMismatch Reason = "mcp_metadata_mismatch"
	TokenMissing        Reason = "token_missing"
	TokenInvalid        Reason = "token_invalid"
	InsufficientScope   Reason = "insufficient_scope"
	InvalidDPoPProof    Reason = "invalid_dpop_proof"
	UseDPoPNonce        Reason = "use_dpop_nonce"
	ReplayCacheFull     Reason = "replay_cache_full"
	IssuerUnavailable   Reason = "issuer_unavailable"
	PolicyDenied        Reason = "policy_denied"
	InvalidArguments    Reason = "invalid_arguments"
	NoPolicy            Reason = "no_policy"
	PolicyError         Reason = "policy_error"
	Deadline            Reason = "deadline_exceeded"
	Overloaded          Reason = "overloaded"
	Internal            Reason = "internal_error"
	// TokenMintFailed: the upstream token could not be minted (503).
	TokenMintFailed Reason = "token_mint_failed"
	// TokenExchangeFailed: the security token service did not exchange the
	// caller's token (503); the request never falls back to passthrough.
	TokenExchangeFailed Reason = "token_exchange_failed"
	// ConnectionRequired: the call needs a third-party connection the caller
	// lacks; answered with a URL-mode elicitation (HTTP 200).
	ConnectionRequired Reason = "connection_required"
	// InvalidRequestState: a requestState this service issued does not
	// verify, expired, or was issued to another principal or request.
	InvalidRequestState Reason = "invalid_request_state"
	// CredentialStoreUnavailable: the credential store could not be read
	// (503); the call is never forwarded without its credential.
	CredentialStoreUnavailable Reason = "credential_store_unavailable"
	// RateLimited: a rate limit the decision named refused the request (429).
	RateLimited Reason = "rate_limited"
	// BudgetExhausted: a cost budget the decision named is spent (429).
	BudgetExhausted Reason = "budget_exhausted"
	// RateLimitUnavailable: the limits could not be counted (Redis down
	// with on_backend_error: deny, or local storage full of limited callers).
	RateLimitUnavailable Reason = "rate_limit_unavailable"
	// ReplayCacheUnavailable: the shared DPoP replay cache (Redis) could
	// not record a proof, so its freshness cannot be vouched for (503).
	ReplayCacheUnavailable Reason = "replay_cache_unavailable"
)

// Error is a denial with its reason and the underlying cause. The cause is
// for logs only; clients see the reason and a generic message.
type Error struct {
	// Reason is the stable code.
	Reason Reason
	// Detail is an optional short text that is safe to show the client
	// (it becomes error_description); it never contains input or token data.
	Detail string
	// Cause is the underlying error, for logs only.
	Cause error
}

// New returns an *Error for reason wrapping cause (which may be nil).
func New(reason Reason, cause error) *Error { return &Error{Reason: reason, Cause: cause} }

// WithDetail returns an *Error for reason with a client-safe detail.
func WithDetail(reason Reason, detail string, cause error) *Error {
	return &Error{Reason: reason, Detail: detail, Cause: cause}
}

// Error implements error: "reason: cause".
func (e *Error) Error() string {
	if e.Cause == nil {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Cause.Error()
}

// Unwrap returns the cause so errors.Is and errors.As see through a denial.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is an *Error with the same reason, so
// errors.Is(err, denial.New(denial.TokenInvalid, nil)) matches by reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// ReasonOf returns the reason of the first *Error in err's chain, or
// Internal when there is none: an unclassified failure is an internal one.
func ReasonOf(err error) Reason {
	var d *Error
	if errors.As(err, &d) {
		return d.Reason
	}
	return Internal
}
