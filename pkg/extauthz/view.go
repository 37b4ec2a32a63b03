package extauthz

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
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
	headers                    map[string][]string
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

// headersOf prefers header_map (Envoy's encode_raw_headers), which keeps
// repeated headers and raw bytes; the headers map joins repeats with ",".
// Every value starts as a one-element slice of one shared array (a
// repeat's append copies it out), so the map costs two allocations.
func headersOf(h *authv3.AttributeContext_HttpRequest) map[string][]string {
	if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		return headerMapOf(hm)
	}
	out := make(map[string][]string, len(h.GetHeaders()))
	vals := make([]string, len(h.GetHeaders()))
	i := 0
	for k, val := range h.GetHeaders() {
		vals[i] = val
		addHeader(out, strings.ToLower(k), vals[i:i+1:i+1])
		i++
	}
	return out
}

// headerMapOf reads header_map. The raw values are copied into one string
// that the values are slices of.
func headerMapOf(hm []*corev3.HeaderValue) map[string][]string {
	n := 0
	for _, hv := range hm {
		n += len(hv.GetRawValue())
	}
	var raw strings.Builder
	raw.Grow(n)
	for _, hv := range hm {
		raw.Write(hv.GetRawValue())
	}
	all, off := raw.String(), 0
	out := make(map[string][]string, len(hm))
	vals := make([]string, len(hm))
	for i, hv := range hm {
		if rv := hv.GetRawValue(); len(rv) > 0 {
			vals[i], off = all[off:off+len(rv)], off+len(rv)
		} else {
			vals[i] = hv.GetValue()
		}
		addHeader(out, strings.ToLower(hv.GetKey()), vals[i:i+1:i+1])
	}
	return out
}

// addHeader adds one value (a one-element slice with no spare capacity)
// under k, after any values k already has.
func addHeader(m map[string][]string, k string, one []string) {
	if prev, ok := m[k]; ok {
		m[k] = append(prev, one[0])
		return
	}
	m[k] = one
}

func headerValue(hv *corev3.HeaderValue) string {
	if raw := hv.GetRawValue(); len(raw) > 0 {
		return string(raw)
	}
	return hv.GetValue()
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
	if vals := v.headers[name]; len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// Values implements mcp.Headers.
func (v *view) Values(name string) []string { return v.headers[name] }

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
