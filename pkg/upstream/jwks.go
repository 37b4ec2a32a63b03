package upstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// JWKSPath is where the public keys of minted tokens are served on the
// public listener.
const JWKSPath = "/.well-known/jwks.json"

// MetadataPrefix is the RFC 8414 well-known prefix of authorization server
// metadata; the issuer's path, if any, follows it.
const MetadataPrefix = "/.well-known/oauth-authorization-server"

// JWKSMaxAge is the Cache-Control max-age of the JWKS. It is short so a
// newly published key reaches verifiers quickly: rotate by publishing the
// new key, waiting longer than this (plus the key_reload interval), and only
// then signing with it.
const JWKSMaxAge = 60 * time.Second

// ServerMetadata is the RFC 8414 authorization server metadata document
// naming the minted tokens' issuer and JWKS. This service issues tokens
// only on the ext_authz path, so it advertises no endpoints and no grants.
type ServerMetadata struct {
	// Issuer is the iss of minted tokens.
	Issuer string `json:"issuer"`
	// JWKSURI is the URL of the public JWK Set.
	JWKSURI string `json:"jwks_uri"`
	// ResponseTypesSupported is required by RFC 8414; empty: no authorization endpoint.
	ResponseTypesSupported []string `json:"response_types_supported"`
	// GrantTypesSupported is empty: no client obtains tokens from this service directly.
	GrantTypesSupported []string `json:"grant_types_supported"`
	// SigningAlgs are the JWS algorithms of minted tokens.
	SigningAlgs []string `json:"token_signing_alg_values_supported"`
}

// Publisher serves the JWKS and the authorization server metadata.
type Publisher struct {
	keys     *Keys
	metaPath string
	meta     []byte
}

// NewPublisher returns the handler for the JWKS of keys and the metadata
// document of issuer (served at MetadataPath).
func NewPublisher(keys *Keys, issuer, jwksURI, alg string) (*Publisher, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("upstream: issuer %q is not an absolute URL", issuer)
	}
	meta, err := json.Marshal(ServerMetadata{Issuer: issuer, JWKSURI: jwksURI, ResponseTypesSupported: []string{},
		GrantTypesSupported: []string{}, SigningAlgs: []string{alg}})
	if err != nil {
		return nil, fmt.Errorf("upstream: metadata: %w", err)
	}
	return &Publisher{keys: keys, metaPath: MetadataPrefix + strings.TrimSuffix(u.EscapedPath(), "/"), meta: meta}, nil
}

// MetadataPath is the RFC 8414 section 3.1 path of the metadata document.
func (p *Publisher) MetadataPath() string { return p.metaPath }

// ServeHTTP serves GET JWKSPath and GET MetadataPath; anything else is 404.
func (p *Publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	switch r.URL.EscapedPath() {
	case JWKSPath:
		body = p.keys.Current().JWKS()
		w.Header().Set("Content-Type", "application/jwk-set+json")
	case p.metaPath:
		body = p.meta
		w.Header().Set("Content-Type", "application/json")
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge.Seconds())))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}
