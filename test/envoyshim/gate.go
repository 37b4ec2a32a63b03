package envoyshim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
)

// extAuthzNamespace is where Envoy stores ext_authz's dynamic metadata.
const extAuthzNamespace = "envoy.filters.http.ext_authz"

// Gate is the Envoy-shaped reverse proxy. It is an http.Handler; Listen
// serves it on a loopback port.
type Gate struct {
	cfg       Config
	proxy     *httputil.ReverseProxy
	localCert *x509.Certificate
	srv       *http.Server
	ln        net.Listener
	scheme    string
}

// New builds a gate from cfg.
func New(cfg Config) (*Gate, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Gate{cfg: cfg, scheme: "http"}
	if cfg.TLS != nil {
		g.scheme = "https"
		if len(cfg.TLS.Certificates) > 0 && len(cfg.TLS.Certificates[0].Certificate) > 0 {
			c, err := x509.ParseCertificate(cfg.TLS.Certificates[0].Certificate[0])
			if err != nil {
				return nil, fmt.Errorf("envoyshim: gate certificate: %w", err)
			}
			g.localCert = c
		}
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		FlushInterval:  -1, // stream every write: SSE responses arrive intact and in time
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
	}
	return g, nil
}

// Listen serves the gate on 127.0.0.1 at a free port until Close.
func (g *Gate) Listen() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("envoyshim: listen: %w", err)
	}
	g.ln = ln
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	if g.cfg.TLS != nil {
		g.srv.TLSConfig = g.cfg.TLS.Clone()
		go func() { _ = g.srv.ServeTLS(ln, "", "") }()
		return nil
	}
	go func() { _ = g.srv.Serve(ln) }()
	return nil
}

// URL is the gate's base URL (scheme://127.0.0.1:port).
func (g *Gate) URL() string { return g.scheme + "://" + g.ln.Addr().String() }

// Close stops the listener and every open connection (SSE streams too).
func (g *Gate) Close() error {
	if g.srv == nil {
		return nil
	}
	return g.srv.Close()
}

// exchange is one HTTP request through the gate.
type exchange struct {
	r         *http.Request
	header    http.Header // the request headers the filter chain sees
	scheme    string
	streamID  uint64
	start     time.Time
	buffered  bool   // with_request_body applied: the body was buffered
	checkBody []byte // the bytes sent in the CheckRequest
	upstream  []byte // the buffered bytes forwarded upstream
	partial   bool
	received  int64
	respOpts  []*corev3.HeaderValueOption // response_headers_to_add
	dynMeta   *structpb.Struct            // ext_authz dynamic_metadata
	proc      *procStream
}

// exchangeKey carries the exchange from ServeHTTP to the proxy hooks.
type exchangeKey struct{}

// ServeHTTP runs one request through ext_authz (and ext_proc) to the upstream.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := g.newExchange(r)
	if !g.bufferBody(w, ex) {
		return
	}
	if !g.authorize(w, ex) {
		return
	}
	if g.cfg.ExtProc != nil {
		ex.proc = g.newProcStream(ex)
		defer ex.proc.close()
		if !ex.proc.requestPhase(w) {
			return
		}
	}
	ex.r.Body = ex.upstreamBody()
	ctx := context.WithValue(r.Context(), exchangeKey{}, ex)
	g.proxy.ServeHTTP(w, ex.r.WithContext(ctx))
}

// upstreamBody is the body forwarded upstream. A wholly buffered body is
// sent from the buffer alone: reading the client's drained body again could
// race the server closing it once the response starts, and a read error
// there makes the transport drop the upstream connection mid-response.
func (ex *exchange) upstreamBody() io.ReadCloser {
	switch {
	case !ex.buffered:
		return ex.r.Body
	case ex.partial:
		return io.NopCloser(io.MultiReader(bytes.NewReader(ex.upstream), ex.r.Body))
	}
	return io.NopCloser(bytes.NewReader(ex.upstream))
}

// newExchange applies the connection manager's own request headers:
// x-forwarded-proto (the downstream scheme) and x-request-id (kept when
// the client sent one).
func (g *Gate) newExchange(r *http.Request) *exchange {
	var id [8]byte
	_, _ = rand.Read(id[:])
	ex := &exchange{r: r, header: r.Header, scheme: g.scheme, streamID: binary.BigEndian.Uint64(id[:]), start: time.Now()}
	ex.header.Set("x-forwarded-proto", g.scheme)
	if ex.header.Get("x-request-id") == "" {
		ex.header.Set("x-request-id", newUUID())
	}
	return ex
}

// bufferBody buffers the body under with_request_body; a body over
// max_request_bytes is a 413 unless partial messages are allowed.
func (g *Gate) bufferBody(w http.ResponseWriter, ex *exchange) bool {
	b := g.cfg.Body
	if b == nil || ex.r.Body == nil || ex.r.Body == http.NoBody {
		return true
	}
	limit := b.maxBytes()
	data, err := io.ReadAll(io.LimitReader(ex.r.Body, int64(limit)+1))
	if err != nil {
		localReply(w, http.StatusBadRequest, nil, "Bad Request")
		return false
	}
	ex.buffered, ex.upstream, ex.received, ex.checkBody = true, data, int64(len(data)), data
	if len(data) > limit {
		if !b.AllowPartialMessage {
			localReply(w, http.StatusRequestEntityTooLarge, nil, "Payload Too Large")
			return false
		}
		ex.partial, ex.checkBody = true, data[:limit]
	}
	return true
}

// authorize calls Check and applies its answer; false means the gate has
// already replied (a deny or an error).
func (g *Gate) authorize(w http.ResponseWriter, ex *exchange) bool {
	req := g.checkRequest(ex)
	ctx, cancel := context.WithTimeout(ex.r.Context(), g.cfg.timeout())
	defer cancel()
	resp, err := g.cfg.Authz.Check(ctx, req)
	if g.cfg.Observe != nil {
		g.cfg.Observe(req, resp, err)
	}
	if err != nil || resp.GetErrorResponse() != nil {
		return g.authzError(w, ex)
	}
	ex.dynMeta = resp.GetDynamicMetadata()
	if ok := resp.GetOkResponse(); ok != nil && ok.GetDynamicMetadata() != nil {
		ex.dynMeta = ok.GetDynamicMetadata() // deprecated field wins, as in Envoy
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		d := resp.GetDeniedResponse()
		status := int(d.GetStatus().GetCode())
		if status == 0 {
			status = http.StatusForbidden
		}
		localReply(w, status, d.GetHeaders(), d.GetBody())
		return false
	}
	applyOK(ex.r, resp.GetOkResponse())
	ex.respOpts = resp.GetOkResponse().GetResponseHeadersToAdd()
	return true
}

// authzError is an unreachable or failing authorization server:
// status_on_error, or the request passes with failure_mode_allow.
func (g *Gate) authzError(w http.ResponseWriter, ex *exchange) bool {
	if g.cfg.FailureModeAllow {
		ex.header.Set("x-envoy-auth-failure-mode-allowed", "true")
		return true
	}
	localReply(w, g.cfg.statusOnError(), nil, "")
	return false
}

// rewrite points the outgoing request at the upstream cluster, keeping the
// client's path and :authority as Envoy's router does (no prefix or host
// rewrite).
func (g *Gate) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme, pr.Out.URL.Host = g.cfg.Upstream.Scheme, g.cfg.Upstream.Host
	pr.Out.Host = pr.In.Host
	// ReverseProxy strips X-Forwarded-*; Envoy forwards the x-forwarded-proto
	// its connection manager set.
	pr.Out.Header.Set("x-forwarded-proto", pr.In.Header.Get("x-forwarded-proto"))
}

// modifyResponse runs the encoder path: ext_proc sees the upstream
// response first, then ext_authz adds response_headers_to_add.
func (g *Gate) modifyResponse(resp *http.Response) error {
	ex, _ := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil {
		return errors.New("envoyshim: response without its exchange")
	}
	if ex.proc != nil {
		if err := ex.proc.responsePhase(resp); err != nil {
			return err
		}
	}
	applyResponseHeaders(resp.Header, ex.respOpts)
	return nil
}

// proxyError answers as Envoy does when the upstream fails (503) or the
// external processor fails closed (its status_on_error, 500 by default).
func (g *Gate) proxyError(w http.ResponseWriter, _ *http.Request, err error) {
	if g.proxy.ErrorLog != nil {
		g.proxy.ErrorLog.Printf("upstream or processor failed before the response headers: %v", err)
	}
	var pe *procError
	if errors.As(err, &pe) && g.cfg.ExtProc != nil {
		localReply(w, g.cfg.ExtProc.statusOnError(), nil, "")
		return
	}
	localReply(w, http.StatusServiceUnavailable, nil, "upstream connect error or disconnect/reset before headers")
}

// newUUID is a random RFC 4122 version 4 UUID, as Envoy's x-request-id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
