package identity

import (
	"errors"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// Client-safe details of denials (they become error_description). They
// never carry token bytes, claim values or library error text.
const (
	detailNoToken          = "no access token"
	detailTwoAuthz         = "multiple Authorization headers"
	detailBadAuthz         = "malformed Authorization header"
	detailScheme           = "unsupported authorization scheme"
	detailTooLarge         = "token too large"
	detailJSONSerial       = "JWS JSON serialization is not accepted"
	detailJWE              = "encrypted tokens are not accepted"
	detailSegments         = "token must have three segments"
	detailMalformed        = "malformed token"
	detailMalformedClaims  = "malformed token claims"
	detailUnknownIssuer    = "unknown issuer"
	detailAlg              = "signing algorithm not allowed"
	detailCrit             = "unsupported critical header"
	detailHeader           = "unsupported token header"
	detailTyp              = "unexpected token type"
	detailUnknownKey       = "unknown signing key"
	detailSignature        = "invalid signature"
	detailNoExp            = "missing exp claim"
	detailExpired          = "token expired"
	detailNotYet           = "token not yet valid"
	detailIATFuture        = "token issued in the future"
	detailAudience         = "audience mismatch"
	detailMultiAudience    = "token audience names other resources besides this one"
	detailNoSub            = "missing sub claim"
	detailNoKID            = "missing kid header"
	detailKIDAmbiguous     = "token without kid, and the issuer has no single key for its alg"
	detailProofWithBearer  = "DPoP proof sent with a Bearer token"
	detailCnf              = "unsupported token confirmation"
	detailBoundAsBearer    = "DPoP-bound token presented as Bearer"
	detailDPoPRequired     = "DPoP-bound token required"
	detailNotBound         = "token is not DPoP-bound"
	detailNoProof          = "missing DPoP proof"
	detailTwoProofs        = "multiple DPoP proofs"
	detailBadHTU           = "invalid request target for DPoP"
	detailKeysUnavailable  = "issuer keys unavailable"
	detailKeysStale        = "issuer keys are stale"
	detailKeysFetchTimeout = "issuer keys unavailable: key set fetch did not finish in time"
)

// detailRequiredClaim is the detail of a missing claim the issuer requires.
func detailRequiredClaim(name string) string { return "missing " + name + " claim" }

// invalid is a TokenInvalid denial with detail, cause for logs.
func invalid(detail string, cause error) *denial.Error {
	if cause == nil {
		cause = errors.New(detail)
	}
	return denial.WithDetail(denial.TokenInvalid, detail, cause)
}
