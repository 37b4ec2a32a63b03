package extauthz

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// maxCertBytes bounds the URL-encoded peer certificate we parse.
const maxCertBytes = 16 << 10

// view is the HTTP request as Envoy reported it, normalised once: lower-case
// header names with every value kept (so repeats are visible when Envoy sends
// header_map), and the body from raw_body or body.
type view struct {
	method, path, host, scheme string
	headers                    headerList
	body                       []byte // raw_body (pack_as_bytes)
	bodyStr                    string // body, when Envoy sent the body as a string
	ctxExt                     map[string]string
	principal                  string
	destPrincipal              string
	cert                       string
	filterMD                   map[string]*structpb.Struct // metadata_context.filter_metadata
	requestID                  string
	id                         json.RawMessage // the JSON-RPC id once parsed, for the panic path
}

// pathOnly is the path without its query string: a query may carry
// credentials (?access_token=), and MCP does not use it, so it never
// reaches logs or the policy input.
func (v *view) pathOnly() string { return hop.PathOnly(v.path) }

// fill builds the view in v. It never fails: every check happens later on
// the view, so each has one place and one reason.
func (v *view) fill(req *authv3.CheckRequest) {
	a := req.GetAttributes()
	h := a.GetRequest().GetHttp()
	*v = view{
		method:        h.GetMethod(), // case-sensitive (RFC 9110 section 9.1): "post" is not POST
		path:          h.GetPath(),
		host:          h.GetHost(),
		scheme:        h.GetScheme(),
		ctxExt:        a.GetContextExtensions(),
		principal:     a.GetSource().GetPrincipal(),
		destPrincipal: a.GetDestination().GetPrincipal(),
		cert:          a.GetSource().GetCertificate(),
		filterMD:      a.GetMetadataContext().GetFilterMetadata(),
	}
	v.headers = headersOf(h)
	v.body = h.GetRawBody()
	if len(v.body) == 0 {
		v.body, v.bodyStr = nil, h.GetBody() // parsed in place, never copied
	}
	v.fillFromPseudoHeaders()
	v.requestID = v.first("x-request-id")
}

// bodyLen is the size of the body Envoy sent.
func (v *view) bodyLen() int { return len(v.body) + len(v.bodyStr) }

// bodyBytes returns the body as bytes (a copy when Envoy sent a string).
func (v *view) bodyBytes() []byte {
	if v.bodyStr != "" {
		return []byte(v.bodyStr)
	}
	return v.body
}

// parseBody parses the JSON-RPC body without copying it.
func (v *view) parseBody(lim mcp.Limits) (*mcp.Message, error) {
	if v.bodyStr != "" {
		return mcp.ParseString(v.bodyStr, lim)
	}
	return mcp.Parse(v.body, lim)
}

// fillFromPseudoHeaders uses :method, :path and :authority when Envoy left
// the dedicated fields empty (older captures).
func (v *view) fillFromPseudoHeaders() {
	if v.method == "" {
		v.method = v.first(":method")
	}
	if v.path == "" {
		v.path = v.first(":path")
	}
	if v.host == "" {
		v.host = v.first(":authority")
	}
	if v.scheme == "" {
		v.scheme = v.first(":scheme")
	}
}

// first returns the first value of a header, or "".
func (v *view) first(name string) string {
	if vals := v.headers.get(name); len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// Values implements mcp.Headers.
func (v *view) Values(name string) []string { return v.headers.get(name) }

// peerCertCacheSize bounds the parsed peer certificates kept: callers are
// a mesh's workloads, few and long-lived, so the same certificate arrives
// on every request and need not be decoded and parsed each time.
const peerCertCacheSize = 1024

// sanCache maps a peer certificate as Envoy sent it to its URI SANs.
type sanCache struct{ lru *lru.Cache[string, []string] }

func newSANCache() sanCache {
	c, _ := lru.New[string, []string](peerCertCacheSize) // only fails for a size <= 0
	return sanCache{lru: c}
}

// uriSANs returns the URI SANs of the peer certificate Envoy sent
// (include_peer_certificate: a URL-encoded PEM), or nil. The result is
// shared: callers must not modify it.
func (c sanCache) uriSANs(cert string) []string {
	if cert == "" || len(cert) > maxCertBytes {
		return nil
	}
	if sans, ok := c.lru.Get(cert); ok {
		return sans
	}
	sans := parseURISANs(cert)
	c.lru.Add(cert, sans)
	return sans
}

// parseURISANs decodes and parses the certificate; nil when it is not one.
func parseURISANs(cert string) []string {
	s, err := url.QueryUnescape(cert)
	if err != nil {
		return nil
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(c.URIs))
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}
