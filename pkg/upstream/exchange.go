package upstream

import "time"

// ExchangeRequest is one RFC 8693 token exchange.
type ExchangeRequest struct {
	// SubjectToken is the caller's verified access token.
	SubjectToken string
	// Issuer, Subject and ClientID identify the caller (the cache key).
	Issuer, Subject, ClientID string
	// SubjectExpiry is the caller's token's exp: an exchanged token is never
	// used past it.
	SubjectExpiry time.Time
	// Audience is the upstream's resource identifier (audience and resource).
	Audience string
	// Scope is the scope requested.
	Scope string
}
