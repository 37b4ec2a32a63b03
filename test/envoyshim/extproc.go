package envoyshim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	procv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// ExtProcConfig is the ext_proc filter (ExternalProcessor) of a gate.
type ExtProcConfig struct {
	// Client is the external processing service (required).
	Client procv3.ExternalProcessorClient
	// Mode is processing_mode; nil is Envoy's default (request and response
	// headers SEND, bodies NONE). Body modes NONE, BUFFERED and (for the
	// response) STREAMED are implemented.
	Mode *filterv3.ProcessingMode
	// ForwardNamespaces is metadata_options.forwarding_namespaces.untyped:
	// the dynamic metadata namespaces sent in each ProcessingRequest. The
	// ext_authz decision's dynamic_metadata lives in
	// "envoy.filters.http.ext_authz".
	ForwardNamespaces []string
	// MaxBufferBytes bounds a BUFFERED body (0: 1 MiB); a larger response is
	// a 500, as Envoy answers when its buffer limit is exceeded.
	MaxBufferBytes int
	// MessageTimeout is message_timeout (0: Envoy's 200ms).
	MessageTimeout time.Duration
	// StatusOnError is status_on_error: the reply when the processor fails
	// or times out (0: Envoy's 500).
	StatusOnError int
}

// statusOnError is status_on_error with Envoy's default.
func (c *ExtProcConfig) statusOnError() int {
	if c.StatusOnError > 0 {
		return c.StatusOnError
	}
	return http.StatusInternalServerError
}

// procError is a failed exchange with the processor: the request fails
// closed (Envoy's failure_mode_allow false, the default).
type procError struct{ err error }

func (e *procError) Error() string { return "envoyshim: ext_proc: " + e.err.Error() }
func (e *procError) Unwrap() error { return e.err }

// procStream is the ext_proc gRPC stream of one HTTP request.
type procStream struct {
	cfg    *ExtProcConfig
	mode   *filterv3.ProcessingMode
	ex     *exchange
	ctx    context.Context
	cancel context.CancelFunc
	stream procv3.ExternalProcessor_ProcessClient
	sent   bool // protocol_config goes in the first message only
}

// newProcStream prepares the exchange; the stream opens on first use.
func (g *Gate) newProcStream(ex *exchange) *procStream {
	mode := g.cfg.ExtProc.Mode
	if mode == nil {
		mode = &filterv3.ProcessingMode{}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ex.r.Context()))
	return &procStream{cfg: g.cfg.ExtProc, mode: mode, ex: ex, ctx: ctx, cancel: cancel}
}

// close ends the stream.
func (p *procStream) close() {
	if p.stream != nil {
		_ = p.stream.CloseSend()
	}
	p.cancel()
}

// roundTrip sends one message and waits for its answer.
func (p *procStream) roundTrip(req *procv3.ProcessingRequest) (*procv3.ProcessingResponse, error) {
	if p.stream == nil {
		s, err := p.cfg.Client.Process(p.ctx)
		if err != nil {
			return nil, &procError{err}
		}
		p.stream = s
	}
	if !p.sent {
		req.ProtocolConfig = &procv3.ProtocolConfiguration{
			RequestBodyMode: p.mode.GetRequestBodyMode(), ResponseBodyMode: p.mode.GetResponseBodyMode(),
		}
		p.sent = true
	}
	req.MetadataContext = p.metadata()
	if err := p.stream.Send(req); err != nil {
		return nil, &procError{err}
	}
	return p.recv()
}

// recv waits for one answer under message_timeout.
func (p *procStream) recv() (*procv3.ProcessingResponse, error) {
	timeout := p.cfg.MessageTimeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	type result struct {
		resp *procv3.ProcessingResponse
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := p.stream.Recv()
		ch <- result{r, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, &procError{r.err}
		}
		return r.resp, nil
	case <-t.C:
		p.cancel() // unblocks Recv
		return nil, &procError{errors.New("message timeout")}
	}
}

// metadata is the forwarded dynamic metadata (metadata_options).
func (p *procStream) metadata() *corev3.Metadata {
	m := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for _, ns := range p.cfg.ForwardNamespaces {
		if ns == extAuthzNamespace && p.ex.dynMeta != nil {
			m.FilterMetadata[ns] = p.ex.dynMeta
		}
	}
	return m
}

// requestPhase sends the request headers (and buffered body) when the mode
// says so; false means the gate already replied.
func (p *procStream) requestPhase(w http.ResponseWriter) bool {
	if p.mode.GetRequestHeaderMode() == filterv3.ProcessingMode_SKIP {
		return p.requestBody(w)
	}
	hasBody := len(p.ex.upstream) > 0 || (p.ex.r.Body != nil && p.ex.r.Body != http.NoBody && !p.ex.buffered)
	resp, err := p.roundTrip(&procv3.ProcessingRequest{Request: &procv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &procv3.HttpHeaders{Headers: requestHeaderMap(p.ex), EndOfStream: !hasBody},
	}})
	if err != nil {
		localReply(w, p.cfg.statusOnError(), nil, "")
		return false
	}
	if ir := resp.GetImmediateResponse(); ir != nil {
		immediateReply(w, ir)
		return false
	}
	common := resp.GetRequestHeaders().GetResponse()
	applyHeaderMutation(p.ex.r.Header, common.GetHeaderMutation())
	if bm := common.GetBodyMutation(); bm != nil && common.GetStatus() == procv3.CommonResponse_CONTINUE_AND_REPLACE {
		p.ex.upstream = mutateBody(p.ex.upstream, bm)
		p.fixLength(p.ex.r.Header, len(p.ex.upstream))
		return true
	}
	return p.requestBody(w)
}

// requestBody sends the buffered request body in BUFFERED mode.
func (p *procStream) requestBody(w http.ResponseWriter) bool {
	if p.mode.GetRequestBodyMode() != filterv3.ProcessingMode_BUFFERED || !p.ex.buffered {
		return true
	}
	resp, err := p.roundTrip(&procv3.ProcessingRequest{Request: &procv3.ProcessingRequest_RequestBody{
		RequestBody: &procv3.HttpBody{Body: p.ex.upstream, EndOfStream: true},
	}})
	if err != nil {
		localReply(w, p.cfg.statusOnError(), nil, "")
		return false
	}
	if ir := resp.GetImmediateResponse(); ir != nil {
		immediateReply(w, ir)
		return false
	}
	common := resp.GetRequestBody().GetResponse()
	applyHeaderMutation(p.ex.r.Header, common.GetHeaderMutation())
	if bm := common.GetBodyMutation(); bm != nil {
		p.ex.upstream = mutateBody(p.ex.upstream, bm)
		p.fixLength(p.ex.r.Header, len(p.ex.upstream))
	}
	return true
}

// fixLength keeps content-length true after a body mutation.
func (p *procStream) fixLength(h http.Header, n int) {
	p.ex.r.ContentLength = int64(n)
	if h.Get("content-length") != "" {
		h.Set("content-length", strconv.Itoa(n))
	}
}

// responsePhase runs the response headers and body exchange on resp.
func (p *procStream) responsePhase(resp *http.Response) error {
	if p.mode.GetResponseHeaderMode() != filterv3.ProcessingMode_SKIP {
		done, err := p.responseHeaders(resp)
		if err != nil || done {
			return err
		}
	}
	switch p.mode.GetResponseBodyMode() {
	case filterv3.ProcessingMode_BUFFERED:
		return p.bufferedResponse(resp)
	case filterv3.ProcessingMode_STREAMED:
		resp.Header.Del("content-length")
		resp.ContentLength = -1
		resp.Body = &streamedBody{p: p, src: resp.Body}
	}
	return nil
}

// responseHeaders sends :status and the response headers; done means the
// processor replaced the response (immediate response or body replaced).
func (p *procStream) responseHeaders(resp *http.Response) (done bool, err error) {
	noBody := resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0
	out, err := p.roundTrip(&procv3.ProcessingRequest{Request: &procv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &procv3.HttpHeaders{Headers: responseHeaderMap(resp), EndOfStream: noBody},
	}})
	if err != nil {
		return true, err
	}
	if ir := out.GetImmediateResponse(); ir != nil {
		replaceResponse(resp, ir)
		return true, nil
	}
	common := out.GetResponseHeaders().GetResponse()
	applyHeaderMutation(resp.Header, common.GetHeaderMutation())
	if bm := common.GetBodyMutation(); bm != nil && common.GetStatus() == procv3.CommonResponse_CONTINUE_AND_REPLACE {
		_ = resp.Body.Close()
		setBody(resp, mutateBody(nil, bm))
		return true, nil
	}
	return noBody, nil
}

// bufferedResponse sends the whole response body in one message.
func (p *procStream) bufferedResponse(resp *http.Response) error {
	limit := p.cfg.MaxBufferBytes
	if limit <= 0 {
		limit = DefaultMaxRequestBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	_ = resp.Body.Close()
	if err != nil || len(body) > limit {
		return &procError{fmt.Errorf("response body over %d bytes or unreadable: %v", limit, err)}
	}
	out, err := p.roundTrip(&procv3.ProcessingRequest{Request: &procv3.ProcessingRequest_ResponseBody{
		ResponseBody: &procv3.HttpBody{Body: body, EndOfStream: true},
	}})
	if err != nil {
		return err
	}
	if ir := out.GetImmediateResponse(); ir != nil {
		replaceResponse(resp, ir)
		return nil
	}
	common := out.GetResponseBody().GetResponse()
	applyHeaderMutation(resp.Header, common.GetHeaderMutation())
	setBody(resp, mutateBody(body, common.GetBodyMutation()))
	return nil
}

// streamedBody exchanges each upstream read with the processor (STREAMED).
type streamedBody struct {
	p    *procStream
	src  io.ReadCloser
	out  bytes.Buffer
	done bool
	buf  [32 << 10]byte
}

// Read returns the processed bytes of the next upstream chunk.
func (s *streamedBody) Read(b []byte) (int, error) {
	for s.out.Len() == 0 && !s.done {
		n, err := s.src.Read(s.buf[:])
		eos := errors.Is(err, io.EOF)
		if err != nil && !eos {
			return 0, err
		}
		if n == 0 && !eos {
			continue
		}
		if perr := s.exchange(s.buf[:n], eos); perr != nil {
			return 0, perr
		}
		s.done = eos
	}
	if s.out.Len() == 0 {
		return 0, io.EOF
	}
	return s.out.Read(b)
}

// exchange sends one chunk and queues the processor's version of it.
func (s *streamedBody) exchange(chunk []byte, eos bool) error {
	out, err := s.p.roundTrip(&procv3.ProcessingRequest{Request: &procv3.ProcessingRequest_ResponseBody{
		ResponseBody: &procv3.HttpBody{Body: append([]byte(nil), chunk...), EndOfStream: eos},
	}})
	if err != nil {
		return err
	}
	if out.GetImmediateResponse() != nil { // the response has started: Envoy resets the stream
		return &procError{errors.New("immediate response after the response started")}
	}
	s.out.Write(mutateBody(chunk, out.GetResponseBody().GetResponse().GetBodyMutation()))
	return nil
}

// Close closes the upstream body.
func (s *streamedBody) Close() error { return s.src.Close() }

// requestHeaderMap is the request headers as ext_proc sends them: raw
// values, pseudo-headers first (after ext_authz's mutations).
func requestHeaderMap(ex *exchange) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for _, e := range ex.entries() {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: e.key, RawValue: []byte(e.value)})
	}
	return m
}

// responseHeaderMap is :status then the response headers, raw values.
func responseHeaderMap(resp *http.Response) *corev3.HeaderMap {
	m := &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: ":status", RawValue: []byte(strconv.Itoa(resp.StatusCode))}}}
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	for _, k := range names {
		if hopByHop[k] {
			continue
		}
		for _, v := range resp.Header.Values(k) {
			m.Headers = append(m.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
		}
	}
	return m
}

// applyHeaderMutation applies set_headers then remove_headers; x-envoy-*
// and pseudo-headers are never touched, as Envoy's ext_proc refuses them.
func applyHeaderMutation(h http.Header, m *procv3.HeaderMutation) {
	for _, o := range m.GetSetHeaders() {
		k := strings.ToLower(o.GetHeader().GetKey())
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "x-envoy") || k == "host" {
			continue
		}
		applyOption(h, o)
	}
	for _, k := range m.GetRemoveHeaders() {
		k = strings.ToLower(k)
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "x-envoy") || k == "host" {
			continue
		}
		h.Del(k)
	}
}

// mutateBody applies a BodyMutation to body (nil mutation: unchanged).
func mutateBody(body []byte, m *procv3.BodyMutation) []byte {
	switch {
	case m == nil:
		return body
	case m.GetClearBody():
		return nil
	case m.GetMutation() != nil:
		if b, ok := m.GetMutation().(*procv3.BodyMutation_Body); ok {
			return b.Body
		}
	}
	return body
}

// setBody replaces resp's body and its length.
func setBody(resp *http.Response, body []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("content-length", strconv.Itoa(len(body)))
}

// replaceResponse turns resp into the processor's immediate response.
func replaceResponse(resp *http.Response, ir *procv3.ImmediateResponse) {
	_ = resp.Body.Close()
	resp.StatusCode = immediateStatus(ir)
	resp.Status = ""
	resp.Header = http.Header{}
	if len(ir.GetBody()) > 0 {
		resp.Header.Set("content-type", "text/plain")
	}
	applyHeaderMutation(resp.Header, ir.GetHeaders())
	setBody(resp, ir.GetBody())
}

// immediateReply writes an immediate response before the upstream is asked.
func immediateReply(w http.ResponseWriter, ir *procv3.ImmediateResponse) {
	h := w.Header()
	if len(ir.GetBody()) > 0 {
		h.Set("content-type", "text/plain")
	}
	applyHeaderMutation(h, ir.GetHeaders())
	w.WriteHeader(immediateStatus(ir))
	_, _ = w.Write(ir.GetBody())
}

// immediateStatus is the immediate response's status (default 200, as in Envoy).
func immediateStatus(ir *procv3.ImmediateResponse) int {
	if c := int(ir.GetStatus().GetCode()); c > 0 {
		return c
	}
	return http.StatusOK
}
