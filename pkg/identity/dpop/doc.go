// Package dpop verifies DPoP proofs (RFC 9449) presented with DPoP-bound
// access tokens at a protected resource.
//
// A DPoP-bound token is useless to a thief only if every request also
// carries a fresh proof signed by the key the token is bound to (cnf.jkt).
// Check makes sure the proof is a compact JWS of type dpop+jwt, signed with
// an allowed asymmetric algorithm by the public key in its own header; that
// the key's RFC 7638 thumbprint is the token's cnf.jkt; that htm, htu and
// ath name this very request and this very token; that iat is recent; and
// that the (key, jti) pair has not been seen before.
//
// The expected htu is built by HTU from a configured public origin rather
// than from the request: behind an Istio sidecar :scheme is http and
// :authority is the in-cluster name, so neither says what URL the client
// signed.
//
// The replay cache is bounded and never evicts a live entry. When it is full
// of unexpired entries a new proof is refused with denial.ReplayCacheFull
// (the service answers 503) instead of forgetting a jti and letting its
// replay through. Expired entries are purged lazily on each Check, so the
// Checker runs no goroutine.
//
// Server-provided nonces (DPoP-Nonce) are deliberately left out: the
// iat window together with the jti replay cache already bounds replay, and
// nonces need an extra per-client round trip that not every MCP client
// implements.
package dpop
