package envoyshim

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// partialBodyHeader is Envoy's x-envoy-auth-partial-body.
const partialBodyHeader = "x-envoy-auth-partial-body"

// hopByHop are the connection-level headers Envoy's HTTP/1 codec and
// connection manager never pass to filters.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"upgrade": true, "transfer-encoding": true,
}

// kv is one header entry, name lower-cased.
type kv struct{ key, value string }

// checkRequest builds the CheckRequest Envoy's ext_authz filter sends for
// ex, following CheckRequestUtils::createHttpCheck.
func (g *Gate) checkRequest(ex *exchange) *authv3.CheckRequest {
	src, dst := g.peers(ex.r)
	attrs := &authv3.AttributeContext{
		Source:            src,
		Destination:       dst,
		Request:           &authv3.AttributeContext_Request{Time: timestamppb.New(ex.start), Http: g.httpRequest(ex)},
		ContextExtensions: cloneMap(g.cfg.ContextExtensions),
		MetadataContext:   g.metadata(ex),
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

// httpRequest is AttributeContext.HttpRequest (CheckRequestUtils::setHttpRequest).
func (g *Gate) httpRequest(ex *exchange) *authv3.AttributeContext_HttpRequest {
	h := &authv3.AttributeContext_HttpRequest{
		Id:       strconv.FormatUint(ex.streamID, 10),
		Method:   ex.r.Method,
		Path:     ex.r.RequestURI,
		Host:     ex.r.Host,
		Scheme:   ex.scheme,
		Size:     ex.received,
		Protocol: protocolOf(ex.r),
	}
	entries := ex.entries()
	if g.cfg.EncodeRawHeaders {
		h.HeaderMap = &corev3.HeaderMap{}
	} else {
		h.Headers = map[string]string{}
	}
	for _, e := range entries {
		addEntry(h, e)
	}
	if !ex.buffered {
		return h
	}
	if g.cfg.Body.PackAsBytes {
		h.RawBody = ex.checkBody
	} else {
		h.Body = strings.ToValidUTF8(string(ex.checkBody), "\uFFFD")
	}
	addEntry(h, kv{partialBodyHeader, strconv.FormatBool(ex.partial)})
	return h
}

// addEntry adds one header as Envoy does: a header_map entry with
// raw_value, or the headers map joining repeats with ",".
func addEntry(h *authv3.AttributeContext_HttpRequest, e kv) {
	if h.HeaderMap != nil {
		h.HeaderMap.Headers = append(h.HeaderMap.Headers, &corev3.HeaderValue{Key: e.key, RawValue: []byte(e.value)})
		return
	}
	v := e.value
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if old, ok := h.Headers[e.key]; ok {
		v = old + "," + v
	}
	h.Headers[e.key] = v
}

// entries lists the request headers the filter sees: pseudo-headers first,
// then every other header by name (values in wire order), without
// hop-by-hop headers and without a client's x-envoy-auth-partial-body.
func (ex *exchange) entries() []kv {
	out := []kv{
		{":authority", ex.r.Host}, {":path", ex.r.RequestURI},
		{":method", ex.r.Method}, {":scheme", ex.scheme},
	}
	names := make([]string, 0, len(ex.header))
	for k := range ex.header {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	for _, k := range names {
		if hopByHop[k] || k == partialBodyHeader || k == "host" {
			continue
		}
		for _, v := range ex.header.Values(k) {
			out = append(out, kv{k, v})
		}
	}
	return out
}

// protocolOf is Envoy's protocol string for r.
func protocolOf(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "HTTP/2"
	case 3:
		return "HTTP/3"
	}
	return r.Proto
}

// metadata is metadata_context: always present, as Envoy always sets it.
func (g *Gate) metadata(ex *exchange) *corev3.Metadata {
	if g.cfg.Metadata != nil {
		if m := g.cfg.Metadata(ex.r, ex.checkBody); m != nil {
			return m
		}
	}
	return &corev3.Metadata{}
}

// peers are the source (downstream) and destination (local) peers of r,
// as CheckRequestUtils::setAttrContextPeer reports them.
func (g *Gate) peers(r *http.Request) (src, dst *authv3.AttributeContext_Peer) {
	src = &authv3.AttributeContext_Peer{Address: socketAddress(r.RemoteAddr)}
	dst = &authv3.AttributeContext_Peer{}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		dst.Address = socketAddress(la.String())
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		src.Principal = principalOf(r.TLS.PeerCertificates[0])
		if g.cfg.IncludePeerCertificate {
			src.Certificate = urlEncode(pemOf(r.TLS.PeerCertificates[0]))
		}
	}
	if g.localCert != nil {
		dst.Principal = principalOf(g.localCert)
	}
	if g.cfg.SourcePrincipal != "" {
		src.Principal = g.cfg.SourcePrincipal
	}
	if g.cfg.DestinationPrincipal != "" {
		dst.Principal = g.cfg.DestinationPrincipal
	}
	return src, dst
}

// principalOf is Envoy's principal of a certificate: the first URI SAN,
// else the first DNS SAN, else the subject.
func principalOf(c *x509.Certificate) string {
	if len(c.URIs) > 0 {
		return c.URIs[0].String()
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.String()
}

// pemOf is the PEM encoding of c.
func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// urlEncode percent-encodes everything but RFC 3986 unreserved characters,
// as Envoy encodes source.certificate.
func urlEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// socketAddress converts "ip:port" into Envoy's Address.
func socketAddress(hostport string) *corev3.Address {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	p, _ := strconv.ParseUint(port, 10, 32)
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)},
	}}}
}

// cloneMap copies m (nil stays nil).
func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
