// Package extproc is the Envoy External Processing (ext_proc v3) server: it
// inspects the responses of MCP servers before the client, and its model,
// sees them. ext_authz decides each request once; its decision reaches this
// server through dynamic metadata (the policy.Handoff), so the response
// side knows which JSON-RPC request a response answers and for whom.
//
// Per response: application/json is buffered whole, text/event-stream is
// streamed through an incremental SSE reader; in both, the one JSON-RPC
// response answering the request is rewritten: list results keep only the
// items the same policy lets the caller use and whose live definition is
// the approved one, tools/call results are bounded, checked against the
// approved outputSchema and judged by data.mcp.output. Everything else
// (notifications, server requests, non-MCP events) passes untouched. Every
// doubt becomes a JSON-RPC error to the client, never an unfiltered list.
package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// Defaults for Options.
const (
	// DefaultMaxBodyBytes bounds a buffered JSON response and one SSE event.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultMaxOutputBytes bounds a tools/call result of a tool whose
	// registry entry sets no max_output_bytes.
	DefaultMaxOutputBytes = 1 << 20
	// DefaultMaxJSONDepth bounds the nesting of a response message.
	DefaultMaxJSONDepth = 128
	// DefaultMaxNumbers bounds the number literals of a response message.
	DefaultMaxNumbers = 1 << 20
)

// Judge answers the response-side policy questions (policy.Engine).
type Judge interface {
	// ListAllowed evaluates data.mcp.list once for in.List.
	ListAllowed(ctx context.Context, in *policy.Input) (map[string]bool, error)
	// JudgeOutput evaluates data.mcp.output for in.Output.
	JudgeOutput(ctx context.Context, in *policy.Input) (policy.OutputDecision, error)
	// Registry is the active revision's tool registry.
	Registry() *registry.Registry
}

// DriftRecorder is told the live hashes of approved tools seen in lists,
// so calls are denied until the drift clears (registry.Watcher).
type DriftRecorder interface {
	registry.DriftSource
	Observe(server string, live map[string]string)
}

// Observer records what the processor did to each inspected message.
type Observer interface {
	// ObserveResponse counts one outcome ("passed", "filtered", "redacted",
	// "refused") with its reason ("" unless refused).
	ObserveResponse(outcome, reason string)
}

// Options configure a Server.
type Options struct {
	// MaxBodyBytes bounds a buffered JSON body and one SSE event.
	MaxBodyBytes int
	// MaxOutputBytes bounds a tools/call result without a per-tool bound.
	MaxOutputBytes int
	// Logger receives one line per refusal and per removed tool.
	Logger *slog.Logger
	// Observer counts outcomes (nil: none).
	Observer Observer
	// Connections is told of upstream refusals of injected third-party
	// credentials (nil: none are marked; StaleHeader is still removed).
	Connections StaleMarker
}

// Server implements envoy.service.ext_proc.v3.ExternalProcessor.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	opts  Options
	judge Judge
	drift DriftRecorder
	lim   mcp.Limits
}

var _ extprocv3.ExternalProcessorServer = (*Server)(nil)

// New returns a Server judging with judge; drift may be nil.
func New(opts Options, judge Judge, drift DriftRecorder) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, judge: judge, drift: drift,
		lim: mcp.Limits{MaxBytes: opts.MaxBodyBytes, MaxDepth: DefaultMaxJSONDepth, MaxNumbers: DefaultMaxNumbers}}
}

// Process serves one HTTP stream: Envoy sends its request headers, then
// the response headers and body, and gets exactly one answer to each.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	ex := &exchange{}
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extproc: receive: %w", err)
		}
		resp := s.handle(ctx, ex, req)
		if resp == nil {
			continue
		}
		if err := stream.Send(resp); err != nil {
			return fmt.Errorf("extproc: send: %w", err)
		}
	}
}

// handle answers one ProcessingRequest; a panic becomes a local error
// reply, never a pass-through.
func (s *Server) handle(ctx context.Context, ex *exchange, req *extprocv3.ProcessingRequest) (resp *extprocv3.ProcessingResponse) {
	if req.GetObservabilityMode() {
		return nil // answers are ignored; nothing to inspect
	}
	defer func() {
		if r := recover(); r != nil {
			s.opts.Logger.Error("extproc: panic", "panic", fmt.Sprint(r))
			resp = immediate(502, ex.id(), "internal_error")
		}
	}()
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		ex.load(req.GetMetadataContext())
		return requestHeadersResponse(ex)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		ex.load(req.GetMetadataContext())
		return s.responseHeaders(ctx, ex, r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return s.responseBody(ctx, ex, r.ResponseBody)
	case *extprocv3.ProcessingRequest_RequestBody:
		return bodyResponse(req, nil)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{
			RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{
			ResponseTrailers: &extprocv3.TrailersResponse{}}}
	}
	return immediate(502, ex.id(), "internal_error")
}

// refuse logs and counts one refusal (reason and cause, never content).
func (s *Server) refuse(ex *exchange, reason string, cause error) {
	s.opts.Logger.Warn("extproc: response refused", "reason", reason, "method", ex.method(), "cause", fmt.Sprint(cause))
	s.observe("refused", reason)
}

func (s *Server) observe(outcome, reason string) {
	if s.opts.Observer != nil {
		s.opts.Observer.ObserveResponse(outcome, reason)
	}
}

// errorMessage is the JSON-RPC error that replaces a refused message.
func errorMessage(id json.RawMessage, reason string) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	msg := "Response refused by policy"
	code := -32003
	if reason == "internal_error" || reason == "no_policy" || reason == "policy_error" || reason == "deadline_exceeded" {
		msg, code = "Internal error", -32603
	}
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   any             `json:"error"`
	}{"2.0", id, map[string]any{"code": code, "message": msg, "data": map[string]string{"reason": reason}}})
	return b
}
