package extauthz

import (
	"context"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/ratelimit"
)

// The stages of a Check, each a span and a decision-log latency. The
// registry stage is timed inside the policy engine (policy.Meta).
const (
	stageView = iota
	stageParse
	stageVerify
	stagePolicy
	stageResponse
	nStages
)

var stageNames = [nStages]string{"view", "parse", "verify", "policy", "response"}

// registryStage names the engine's registry checks in the decision log.
const registryStage = "registry"

// trail is what one Check learned on its way, for the one observe point:
// metrics, the decision log and the trace. Fields stay zero for stages
// the Check did not reach.
type trail struct {
	start    time.Time
	hop      hop.Hop
	hopOK    bool
	msg      *mcp.Message
	rev      mcp.Revision
	p        *identity.Principal
	in       *policy.Input
	meta     policy.Meta
	decision policy.Decision  // the policy's decision, once asked
	limits   ratelimit.Result // the rate limits counted (none: zero)
	limitsAt time.Time        // when they were counted
	shadow   bool             // shadow mode applied to this Check
	stages   [nStages]time.Duration
	reached  [nStages]bool
	remote   trace.SpanContext // the traceparent Envoy forwarded
	span     trace.Span        // the Check span (nil when tracing is off)
}

// stage times one stage of t and, when tracing is on, runs it in a child
// span of ctx. The returned timer's end ends it.
func (s *Server) stage(ctx context.Context, t *trail, i int) (context.Context, stageTimer) {
	st := stageTimer{clock: s.opts.Clock, t: t, i: i, start: s.opts.Clock()}
	if s.opts.Tracer != nil {
		ctx, st.span = s.opts.Tracer.Start(ctx, stageNames[i])
	}
	return ctx, st
}

// stageTimer is one running stage (a value: no allocation per stage).
type stageTimer struct {
	clock func() time.Time
	t     *trail
	i     int
	start time.Time
	span  trace.Span
}

// end adds the stage's time to the trail and ends its span.
func (st stageTimer) end() {
	st.t.stages[st.i] += st.clock().Sub(st.start)
	st.t.reached[st.i] = true
	if st.span != nil {
		st.span.End()
	}
}

// traceContext is the W3C propagator Envoy's traceparent is read with.
var traceContext = propagation.TraceContext{}

// begin starts the Check's trace: the remote parent from the traceparent
// header Envoy forwarded and, when tracing is on, the Check span.
func (s *Server) begin(ctx context.Context, req *authv3.CheckRequest, t *trail) context.Context {
	if s.opts.Tracer == nil && s.opts.Recorder == nil {
		return ctx
	}
	ctx = traceContext.Extract(ctx, requestCarrier{req.GetAttributes().GetRequest().GetHttp()})
	t.remote = trace.SpanContextFromContext(ctx)
	if s.opts.Tracer != nil {
		ctx, t.span = s.opts.Tracer.Start(ctx, "Check", trace.WithSpanKind(trace.SpanKindServer))
	}
	return ctx
}

// traceIDs returns the trace and span ids a record names: the Check span's
// when tracing is on, else the forwarded traceparent's trace.
func (t *trail) traceIDs() (traceID, spanID string) {
	if t.span != nil {
		if sc := t.span.SpanContext(); sc.IsValid() {
			return sc.TraceID().String(), sc.SpanID().String()
		}
	}
	if t.remote.HasTraceID() {
		return t.remote.TraceID().String(), ""
	}
	return "", ""
}

// maxTraceHeader bounds the traceparent and tracestate values read.
const maxTraceHeader = 512

// requestCarrier reads traceparent and tracestate from a CheckRequest's
// header_map (encode_raw_headers) or headers map. It never writes.
type requestCarrier struct {
	h *authv3.AttributeContext_HttpRequest
}

// Get returns the first value of key (lower case), bounded.
func (c requestCarrier) Get(key string) string {
	v := c.get(key)
	if len(v) > maxTraceHeader {
		return ""
	}
	return v
}

func (c requestCarrier) get(key string) string {
	if hm := c.h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		for _, hv := range hm {
			if len(hv.GetKey()) == len(key) && lowerEq(hv.GetKey(), key) {
				return headerValue(hv)
			}
		}
		return ""
	}
	return c.h.GetHeaders()[key]
}

// Set implements propagation.TextMapCarrier; a request is never written.
func (requestCarrier) Set(string, string) {}

// Keys implements propagation.TextMapCarrier.
func (requestCarrier) Keys() []string { return []string{"traceparent", "tracestate"} }

func lowerEq(a, lower string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
