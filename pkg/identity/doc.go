// Package identity turns the Authorization (and DPoP) headers of a request
// into a verified Principal, or into a stable denial.
//
// It exists so that everything about access tokens lives in one place: the
// JWT library (lestrrat-go/jwx/v2) is imported here and nowhere else, so a
// move to another major version is one package's change, and no other
// package ever sees a raw token or a library error text.
//
// jwx's defaults are permissive (it accepts a missing exp, exp 0, the JWS
// JSON serialization, a key of any issuer in a set, "none" through
// jws.Parse). The Verifier closes each of these explicitly: compact
// serialization only, a size cap before parsing, a per-issuer algorithm
// allowlist of asymmetric algorithms, keys chosen only from the set of the
// issuer named by iss, exp required and in the future, nbf/iat with a skew,
// aud containing this hop's resource, no unknown crit, optional typ, and
// DPoP binding (RFC 9449) enforced in both directions.
//
// Key sets come from a file, a JWKS URL or OAuth/OIDC discovery. Remote sets
// are fetched with our own HTTP client (timeout, response size cap, TLS with
// an optional CA file, no cross-host redirect) and are refreshed in the
// background; an unknown kid triggers a rate-limited refetch, which a
// request waits for only until its context ends. Every set passes
// keyset.Parse: one publishing private key material is refused whole, keys
// that cannot verify are skipped. The last good set serves for at most
// MaxStaleness while the endpoint is down or misbehaves, measured on the
// injected clock.
package identity
