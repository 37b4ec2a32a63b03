// Package credstore keeps users' third-party credentials (the tokens gathered by
// the connect flow) encrypted at rest, keyed by the user's identity and the
// provider — (issuer, subject, provider) — and never by an MCP session, as the
// elicitation page of the MCP specification requires ("State MUST NOT be
// associated with session IDs alone").
//
// Records are sealed with AES-256-GCM under a key read from a file; the key id
// travels with each record so keys can be rotated (the first key of the file
// seals, every key opens), and the record's key tuple is the additional
// authenticated data, so a record copied under another user's key does not
// open. Two backends: an embedded single-file bbolt database that needs no
// setup, and Redis for several replicas.
package credstore
