package extproc

import (
	"context"
	"encoding/json"
	"mime"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// bodyMode is how this stream's response body is inspected.
type bodyMode int

const (
	modeNone bodyMode = iota // not an MCP body: passes untouched
	modeJSON                 // application/json, BUFFERED
	modeSSE                  // text/event-stream, STREAMED
)

// exchange is the state of one HTTP stream.
type exchange struct {
	in     *policy.Input // the decided request (nil: no handoff)
	bad    bool          // a handoff was present but unreadable
	mode   bodyMode
	sse    *mcp.SSEReader
	failed bool // the SSE stream was refused: drop the rest
	body   []byte
	// injected are the credentials Check put upstream: provider → version.
	injected map[string]string
}

// load reads the handoff from the metadata Envoy forwards (once).
func (ex *exchange) load(md *corev3.Metadata) {
	if ex.in != nil || md == nil {
		return
	}
	ns := md.GetFilterMetadata()[policy.HandoffNamespace]
	v, ok := ns.GetFields()[policy.HandoffKey]
	if !ok {
		return
	}
	h, err := policy.DecodeHandoff(v.GetStringValue())
	if err != nil {
		ex.bad = true
		return
	}
	ex.in = &h.Input
	ex.injected = h.Injected
}

// id is the JSON-RPC id of the request (nil for a GET or without handoff).
func (ex *exchange) id() json.RawMessage {
	if ex.in == nil {
		return nil
	}
	return ex.in.MCP.ID
}

// method is the JSON-RPC method of the request ("" when unknown).
func (ex *exchange) method() string {
	if ex.in == nil {
		return ""
	}
	return ex.in.MCP.Method
}

// requestHeadersResponse asks the upstream for an uncompressed response
// (a compressed one could not be inspected and would be refused).
func requestHeadersResponse(ex *exchange) *extprocv3.ProcessingResponse {
	cr := &extprocv3.CommonResponse{}
	if ex.in != nil {
		cr.HeaderMutation = &extprocv3.HeaderMutation{RemoveHeaders: []string{"accept-encoding"}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: cr}}}
}

// responseHeaders first notes an upstream refusal of injected credentials
// (noteStale), then picks the body mode.
func (s *Server) responseHeaders(ctx context.Context, ex *exchange, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	remove := s.noteStale(ctx, ex, h.GetHeaders())
	return withRemovals(s.bodyMode(ex, h), remove)
}

// bodyMode picks the body mode from the content type: JSON is buffered
// whole, SSE streamed; anything else passes. An MCP body that cannot be
// inspected (no handoff, compressed) is refused here.
func (s *Server) bodyMode(ex *exchange, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	hdr := headerMap(h.GetHeaders())
	mt, _, _ := mime.ParseMediaType(hdr["content-type"])
	switch mt {
	case "application/json":
		ex.mode = modeJSON
	case "text/event-stream":
		ex.mode = modeSSE
	default:
		return headersResponse(nil, nil)
	}
	if h.GetEndOfStream() {
		ex.mode = modeNone
		return headersResponse(nil, nil)
	}
	if ex.in == nil {
		reason := string(denial.NoHandoff)
		s.refuse(ex, reason, nil)
		return immediate(502, nil, reason)
	}
	if enc := strings.ToLower(strings.TrimSpace(hdr["content-encoding"])); enc != "" && enc != "identity" {
		reason := string(denial.ContentEncoding)
		s.refuse(ex, reason, nil)
		return immediate(502, ex.id(), reason)
	}
	if ex.mode == modeSSE {
		ex.sse = mcp.NewSSEReader(s.opts.MaxBodyBytes)
		return headersResponse(&extprocfilterv3.ProcessingMode{
			ResponseHeaderMode: extprocfilterv3.ProcessingMode_SEND,
			ResponseBodyMode:   extprocfilterv3.ProcessingMode_STREAMED,
		}, &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}})
	}
	return headersResponse(&extprocfilterv3.ProcessingMode{
		ResponseHeaderMode: extprocfilterv3.ProcessingMode_SEND,
		ResponseBodyMode:   extprocfilterv3.ProcessingMode_BUFFERED,
	}, nil)
}

func headersResponse(mode *extprocfilterv3.ProcessingMode, mut *extprocv3.HeaderMutation) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{
			Response: &extprocv3.CommonResponse{HeaderMutation: mut}}},
		ModeOverride: mode,
	}
}

// headerMap reads lower-cased header names to their first value (raw_value
// when Envoy sends bytes).
func headerMap(hm *corev3.HeaderMap) map[string]string {
	out := map[string]string{}
	for _, h := range hm.GetHeaders() {
		k := strings.ToLower(h.GetKey())
		if _, dup := out[k]; dup {
			continue
		}
		v := h.GetValue()
		if v == "" && len(h.GetRawValue()) > 0 {
			v = string(h.GetRawValue())
		}
		out[k] = v
	}
	return out
}

// immediate is a local reply: the response never reaches the client.
func immediate(status int, id json.RawMessage, reason string) *extprocv3.ProcessingResponse {
	body := errorMessage(id, reason)
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
				setHeader("content-type", "application/json"),
				setHeader(reasonHeader, reason),
			}},
			Body:    body,
			Details: "mcp_authz_" + reason,
		}}}
}

// reasonHeader carries the reason of a refused response, as on denials.
const reasonHeader = "x-mcp-authz-reason"

func setHeader(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, RawValue: []byte(v)},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// bodyResponse answers a body message of req's direction; body nil leaves
// the chunk as it is.
func bodyResponse(req *extprocv3.ProcessingRequest, cr *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	if cr == nil {
		cr = &extprocv3.CommonResponse{}
	}
	if _, ok := req.GetRequest().(*extprocv3.ProcessingRequest_RequestBody); ok {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
			RequestBody: &extprocv3.BodyResponse{Response: cr}}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{Response: cr}}}
}

// replaceBody is a body answer carrying body (and, when buffered, the
// content-length that matches it: Envoy refuses a mismatch).
func replaceBody(body []byte, buffered bool, reason string) *extprocv3.ProcessingResponse {
	cr := &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
		Mutation: &extprocv3.BodyMutation_Body{Body: body}}}
	if buffered {
		set := []*corev3.HeaderValueOption{setHeader("content-length", strconv.Itoa(len(body)))}
		if reason != "" {
			set = append(set, setHeader(reasonHeader, reason))
		}
		cr.HeaderMutation = &extprocv3.HeaderMutation{SetHeaders: set}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{Response: cr}}}
}
