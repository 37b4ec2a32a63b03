package extproc

import (
	"bytes"
	"context"
	"errors"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// responseBody inspects one body message in the stream's mode.
func (s *Server) responseBody(ctx context.Context, ex *exchange, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	req := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: b}}
	switch ex.mode {
	case modeJSON:
		return s.jsonBody(ctx, ex, b)
	case modeSSE:
		return replaceBody(s.sseChunk(ctx, ex, b.GetBody(), b.GetEndOfStream()), false, "")
	}
	return bodyResponse(req, nil)
}

// jsonBody judges an application/json body: one JSON-RPC message. Envoy
// sends a BUFFERED body in one message. Should it arrive in several (a
// data plane that streams it), each part is held and answered with an
// empty chunk, and the judged message goes out with the last: nothing of
// the body passes before all of it was judged.
func (s *Server) jsonBody(ctx context.Context, ex *exchange, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if ex.failed {
		return replaceBody(nil, false, "")
	}
	if len(ex.body)+len(b.GetBody()) > s.opts.MaxBodyBytes {
		ex.body, ex.failed = nil, !b.GetEndOfStream()
		reason := string(denial.ResponseTooLarge)
		s.refuse(ex, reason, nil)
		return replaceBody(errorMessage(ex.id(), reason), true, reason)
	}
	ex.body = append(ex.body, b.GetBody()...)
	if !b.GetEndOfStream() {
		return replaceBody(nil, false, "")
	}
	body := ex.body
	ex.body = nil
	v := s.message(ctx, ex, body)
	switch v.action {
	case actPass:
		if len(body) != len(b.GetBody()) { // held parts: send the whole body now
			return replaceBody(body, true, "")
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
			ResponseBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{}}}}
	case actDrop:
		return replaceBody(errorMessage(ex.id(), v.reason), true, v.reason)
	}
	return replaceBody(v.data, true, v.reason)
}

// sseChunk returns what replaces one chunk of an SSE body: the complete
// events it ends, each passed, rewritten or dropped; partial events are
// held for the next chunk and discarded at the end of the stream (a client
// discards them too). After a refusal the rest of the stream is dropped.
func (s *Server) sseChunk(ctx context.Context, ex *exchange, chunk []byte, end bool) []byte {
	if ex.failed {
		return nil
	}
	events, err := ex.sse.Feed(chunk)
	var out bytes.Buffer
	for _, ev := range events {
		out.Write(s.event(ctx, ex, ev))
	}
	if err != nil {
		reason := string(denial.ResponseTooLarge)
		if !errors.Is(err, mcp.ErrEventTooLarge) {
			reason = string(denial.InvalidResponse)
		}
		s.refuse(ex, reason, err)
		ex.failed = true
		if ex.id() != nil {
			out.Write(mcp.MessageEvent(errorMessage(ex.id(), reason)))
		}
	}
	return out.Bytes()
}

// event judges one complete SSE event.
func (s *Server) event(ctx context.Context, ex *exchange, ev mcp.SSEEvent) []byte {
	if !ev.IsMessage() {
		return ev.Raw // not something an MCP client reads as a message
	}
	v := s.message(ctx, ex, ev.Data)
	switch v.action {
	case actPass:
		return ev.Raw
	case actDrop:
		return nil
	}
	return ev.WithData(v.data)
}
