package extauthz

import (
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// ReasonShadow is the metric reason of a deny answered with an allow in
// shadow mode; the decision log keeps the would-be reason.
const ReasonShadow = "shadow"

// Modes as the decision log and traces spell them.
const (
	modeEnforce = "enforce"
	modeShadow  = "shadow"
)

// failClosed are the service's own conditions: it cannot decide, so even
// shadow mode denies them (no bundle, overload, a crash, no time left, no
// issuer keys, no room to detect a replay).
var failClosed = map[string]bool{
	string(denial.NoPolicy): true, string(denial.Overloaded): true, string(denial.Internal): true,
	string(denial.Deadline): true, string(denial.IssuerUnavailable): true, string(denial.ReplayCacheFull): true,
}

// enforce returns what goes on the wire for o: o itself, or in shadow mode
// an allow for any deny but the service's own failures.
func (s *Server) enforce(o outcome, t *trail) outcome {
	t.shadow = s.opts.Shadow
	if t.hopOK {
		t.shadow = t.hop.Shadow
	}
	if !t.shadow || o.allow || failClosed[o.reason] {
		return o
	}
	// The input goes on to ext_proc: a policy denial allowed in shadow mode
	// still has its responses inspected. A request shadow-allowed before
	// its principal was verified has none, and ext_proc refuses its MCP
	// responses (no_handoff).
	return outcome{allow: true, reason: ReasonShadow, input: o.input}
}

// maxFieldBytes bounds each caller-controlled string a record carries
// (request id, workload principal, method, a tool name the registry did
// not resolve).
const maxFieldBytes = 256

// event builds the decision-log event of one Check.
func (s *Server) event(v *view, o, wire outcome, t *trail, d time.Duration) decisionlog.Event {
	traceID, spanID := t.traceIDs()
	r := &mcpauthzv1.DecisionRecord{
		Timestamp: timestamppb.New(t.start), RequestId: clean(v.requestID, maxFieldBytes), TraceId: traceID, SpanId: spanID,
		WorkloadPrincipal: clean(v.principal, 4*maxFieldBytes), HttpMethod: clean(v.method, maxFieldBytes), McpRevision: string(t.rev),
		Decision: decisionName(o.allow), Reason: o.reason, JsonrpcCode: int32(o.rpcCode),
		BundleRevision: t.meta.Revision, Mode: modeName(t.shadow), EnforcedDecision: decisionName(wire.allow),
		LatencyNs: int64(d), StageLatencyNs: t.latencies(),
	}
	if !o.allow {
		r.HttpStatus = int32(o.status)
	}
	if r.BundleRevision == "" {
		r.BundleRevision = s.revision()
	}
	if t.hopOK {
		r.Resource, r.Server = t.hop.Resource, t.hop.Server
	}
	if p := t.p; p != nil {
		r.Subject, r.Issuer, r.ClientId = p.Subject, p.Issuer, p.ClientID
	}
	r.RateLimits, r.RateLimitBackend = limitRecords(t.limits, t.limitsAt), t.limits.Backend
	ev := decisionlog.Event{Record: r}
	if m := t.msg; m != nil {
		r.Method = clean(m.Method, maxFieldBytes)
		r.Tool = clean(m.Tool, maxFieldBytes)
		ev.Arguments = m.Arguments
	}
	if in := t.in; in != nil {
		r.Server = in.Resource.Server
		if in.Tool != nil {
			r.Tool, r.ManifestHash = in.Tool.ID, t.meta.ManifestHash
			ev.Rules = t.meta.ArgumentRules
		}
	}
	return ev
}

// latencies maps each stage reached to its nanoseconds.
func (t *trail) latencies() map[string]int64 {
	out := make(map[string]int64, nStages+1)
	for i, ok := range t.reached {
		if ok {
			out[stageNames[i]] = int64(t.stages[i])
		}
	}
	if t.meta.Revision != "" && t.in != nil {
		out[registryStage] = int64(t.meta.Registry)
	}
	return out
}

// revisioner is a Decider that names its active revision (the engine).
type revisioner interface{ Revision() string }

// revision names the active bundle revision for a Check the policy never
// saw (a deny before evaluation).
func (s *Server) revision() string {
	if r, ok := s.decider.(revisioner); ok {
		return r.Revision()
	}
	return ""
}

// endSpan annotates and ends the Check span: never a credential, a
// subject or an argument.
func (s *Server) endSpan(o, wire outcome, t *trail) {
	if t.span == nil {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String("mcp_authz.decision", decisionName(o.allow)),
		attribute.String("mcp_authz.reason", o.reason),
		attribute.String("mcp_authz.enforced_decision", decisionName(wire.allow)),
		attribute.String("mcp_authz.mode", modeName(t.shadow)),
		attribute.String("mcp_authz.bundle_revision", t.meta.Revision),
	}
	if !o.allow {
		attrs = append(attrs, attribute.Int("http.response.status_code", o.status))
	}
	if t.hopOK {
		attrs = append(attrs, attribute.String("mcp_authz.resource", t.hop.Resource))
	}
	if m := t.msg; m != nil && m.Method != "" {
		attrs = append(attrs, attribute.String("mcp.method.name", m.Method))
	}
	if t.in != nil && t.in.Tool != nil {
		attrs = append(attrs, attribute.String("mcp.tool.id", t.in.Tool.ID))
	}
	t.span.SetAttributes(attrs...)
	t.span.End()
}

func decisionName(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

func modeName(shadow bool) string {
	if shadow {
		return modeShadow
	}
	return modeEnforce
}

// clean bounds a caller-controlled string to n bytes of valid UTF-8 (a
// header may carry raw bytes; protojson refuses invalid UTF-8).
func clean(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
