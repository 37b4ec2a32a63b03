package identity

import "time"

// RolesInvalid is Principal.RolesError of a roles claim in the wrong shape:
// the stable reason a policy denies with when it needed those roles.
const RolesInvalid = "invalid_roles_claim"

// Principal is a verified caller. It is built only from a token whose
// signature, issuer, lifetime and audience all checked out. A Principal
// returned by Verify is shared with the verified-token cache (and with
// other requests presenting the same token): treat it as read-only.
type Principal struct {
	// Subject is sub.
	Subject string
	// Issuer is iss.
	Issuer string
	// Audience is aud, always a list.
	Audience []string
	// Scopes is the scope (or scp) claim split on spaces.
	Scopes []string
	// Roles is the configured roles claim, read in its configured format.
	Roles []string
	// RolesError is RolesInvalid when the roles claim is present in another
	// shape than the configured format (Roles is then empty), else "".
	RolesError string
	// ClientID is azp, else client_id.
	ClientID string
	// TokenType is "Bearer" or "DPoP": the scheme the token was presented
	// with.
	TokenType string
	// Claims is every claim of the token, as JSON-decoded values (numbers
	// are json.Number).
	Claims map[string]any
	// TokenID is jti, "" when absent.
	TokenID string
	// CnfJKT is cnf.jkt (RFC 9449): the JWK SHA-256 thumbprint of the key a
	// DPoP-bound token is bound to; "" for an unbound token.
	CnfJKT string
	// ExpiresAt is exp.
	ExpiresAt time.Time
	// KeyID is the kid header of the token ("" when absent).
	KeyID string
	// Act is the token's RFC 8693 act claim as a list, outermost (the
	// token's current actor) first; nil when the token has none.
	Act []Actor
	// MayAct is the may_act claim: who may act for Subject (nil: no claim).
	MayAct *Actor
}
