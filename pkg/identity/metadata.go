package identity

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// WellKnownMetadataPath is the RFC 9728 well-known path prefix.
const WellKnownMetadataPath = "/.well-known/oauth-protected-resource"

// ResourceMetadata is an RFC 9728 Protected Resource Metadata document.
type ResourceMetadata struct {
	// Resource is the resource identifier (RFC 8707), an absolute URL.
	Resource string `json:"resource"`
	// PublicOrigin is the origin the document is served at (not part of
	// the document). When several documents share a well-known path, the
	// request's Host picks the one whose PublicOrigin host (else Resource
	// host) it equals.
	PublicOrigin string `json:"-"`
	// AuthorizationServers are the issuer identifiers accepted here.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported are the scopes this resource understands.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported is always ["header"]: tokens are accepted
	// only in the Authorization header (set by MetadataHandler).
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	// ResourceName is a human-readable name.
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation is a URL of human-readable documentation.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
	// DPoPSigningAlgValuesSupported are the JWS algorithms accepted for
	// DPoP proofs.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired is true when only DPoP-bound tokens
	// are accepted.
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
}

// servedDoc is one precomputed metadata document and the host it is for.
type servedDoc struct {
	host string
	body []byte
}

// metadataHandler serves precomputed metadata documents by path.
type metadataHandler struct {
	docs map[string][]servedDoc
}

// MetadataHandler serves each document as JSON at
// /.well-known/oauth-protected-resource<resource path> (RFC 9728 section
// 3.1), GET only; any other path is 404. Documents whose Resource is not
// an absolute http(s) URL are not served; for two documents with the same
// path and host the first wins.
func MetadataHandler(docs []ResourceMetadata) http.Handler {
	h := &metadataHandler{docs: map[string][]servedDoc{}}
	for _, d := range docs {
		p, ok := metadataPath(d.Resource)
		if !ok {
			continue
		}
		host := docHost(d)
		if slices.ContainsFunc(h.docs[p], func(s servedDoc) bool { return s.host == host }) {
			continue
		}
		d.BearerMethodsSupported = []string{"header"}
		body, err := json.Marshal(d)
		if err != nil {
			continue
		}
		h.docs[p] = append(h.docs[p], servedDoc{host: host, body: body})
	}
	return h
}

// docHost is the lower-cased host[:port] a document is served for.
func docHost(d ResourceMetadata) string {
	for _, raw := range []string{d.PublicOrigin, d.Resource} {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			return strings.ToLower(u.Host)
		}
	}
	return ""
}

// lookup returns the document for path and host: the only one for path,
// else the one for host.
func (h *metadataHandler) lookup(path, host string) ([]byte, bool) {
	docs := h.docs[path]
	if len(docs) == 1 {
		return docs[0].body, true
	}
	for _, d := range docs {
		if d.host == strings.ToLower(host) {
			return d.body, true
		}
	}
	return nil, false
}

// ServeHTTP implements http.Handler.
func (h *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := h.lookup(r.URL.EscapedPath(), r.Host)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// MetadataURL is the metadata URL of resource served at publicOrigin:
// origin + "/.well-known/oauth-protected-resource" + the resource's path
// (a trailing slash dropped), as used in WWW-Authenticate resource_metadata.
func MetadataURL(publicOrigin, resource string) string {
	p, ok := metadataPath(resource)
	if !ok {
		p = WellKnownMetadataPath
	}
	return strings.TrimSuffix(publicOrigin, "/") + p
}

// metadataPath is the well-known path for resource, false when resource
// is not an absolute http(s) URL.
func metadataPath(resource string) (string, bool) {
	u, err := url.Parse(resource)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	return WellKnownMetadataPath + strings.TrimSuffix(u.EscapedPath(), "/"), true
}
