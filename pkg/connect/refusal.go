package connect

import "net/http"

// Stable reasons a browser flow is refused: the metric label, the log field
// and the code shown on the error page. Nothing else about the cause is shown.
const (
	reasonLinkInvalid         = "link_invalid"         // unknown, used or expired elicitation id
	reasonIssuerMismatch      = "issuer_mismatch"      // the elicitation's issuer is not the login issuer, or the ID token's
	reasonSubjectMismatch     = "subject_mismatch"     // the user who logged in is not the one the link was made for
	reasonCookieMissing       = "cookie_missing"       // no (or a malformed) flow cookie: CSRF or another browser
	reasonStateMismatch       = "state_mismatch"       // state or CSRF token differs from the flow's
	reasonFlowExpired         = "flow_expired"         // the flow record is gone (expired, or used)
	reasonLoginFailed         = "login_failed"         // the issuer refused, or the code exchange failed
	reasonIDTokenInvalid      = "id_token_invalid"     // missing or unverifiable ID token, wrong nonce
	reasonIssuerUnavailable   = "issuer_unavailable"   // the login issuer's metadata could not be read
	reasonProviderFailed      = "provider_failed"      // the provider refused, or its code exchange failed
	reasonProviderUnavailable = "provider_unavailable" // the provider's endpoints could not be found
	reasonStoreUnavailable    = "store_unavailable"    // the credential store failed
	reasonBusy                = "busy"                 // too many pending flows on this replica
	reasonSessionRequired     = "session_required"     // a connections-page action without a session
	reasonBadRequest          = "bad_request"          // a malformed form or an unknown provider
	reasonInternal            = "internal_error"       // randomness or encoding failed
)

// refusal is a refused step: a stable reason and the cause (logged only).
type refusal struct {
	reason string
	cause  error
}

func refuse(reason string, cause error) *refusal { return &refusal{reason: reason, cause: cause} }

// status is the HTTP status of a refusal's page.
func (r *refusal) status() int {
	switch r.reason {
	case reasonStoreUnavailable, reasonBusy, reasonIssuerUnavailable, reasonProviderUnavailable, reasonInternal:
		return http.StatusServiceUnavailable
	case reasonSubjectMismatch, reasonIssuerMismatch, reasonSessionRequired:
		return http.StatusForbidden
	case reasonLoginFailed, reasonProviderFailed:
		return http.StatusBadGateway
	}
	return http.StatusBadRequest
}

// message is the page text of a refusal: what the user can do about it.
func (r *refusal) message() string {
	switch r.reason {
	case reasonLinkInvalid:
		return "This connect link is unknown, already used or expired. Return to your client and retry the call to get a new link."
	case reasonSubjectMismatch, reasonIssuerMismatch:
		return "You signed in as a different user than the one this link was made for. Nothing was connected."
	case reasonCookieMissing, reasonStateMismatch, reasonFlowExpired:
		return "This sign-in did not start in this browser, or took too long. Open the connect link from your client again."
	case reasonBusy, reasonStoreUnavailable, reasonIssuerUnavailable, reasonProviderUnavailable, reasonInternal:
		return "The service cannot complete this now. Try again in a few minutes."
	}
	return "The connection could not be completed. Nothing was connected."
}
