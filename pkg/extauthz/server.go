// Package extauthz is the Envoy ext_authz v3 gRPC Authorization server: it
// turns each CheckRequest into one decision, Check → view → HTTP checks →
// parse → identity → policy → response, and answers every failure with a
// denied_response, never with a gRPC error or error_response: Envoy treats
// both as errors, and under failure_mode_allow an error becomes an allow.
package extauthz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/redact"
)

// Verifier verifies the caller's token for a hop.
type Verifier interface {
	Verify(ctx context.Context, r identity.Request) (*identity.Principal, error)
}

// Decider evaluates the policy over an input document.
type Decider interface {
	Decide(ctx context.Context, in *policy.Input) (policy.Decision, error)
}

// Observer records each decided Check (metrics): the decision that went
// on the wire.
type Observer interface {
	ObserveCheck(allow bool, reason string, d time.Duration)
}

// NonceIssuer issues DPoP server nonces (RFC 9449 §8) for the DPoP-Nonce
// header.
type NonceIssuer interface {
	Issue() (string, error)
}

// ShadowObserver is an Observer that also counts the would-be decisions
// of Checks decided in shadow mode.
type ShadowObserver interface {
	ObserveShadow(allow bool, reason string)
}

// Recorder receives one event per decided Check: the decision log. Log
// must not block.
type Recorder interface {
	Log(ev decisionlog.Event)
}

// Options configure a Server.
type Options struct {
	// Hops resolves host + path to the protected resource.
	Hops *hop.Table
	// AllowedOrigins are the browser Origins accepted.
	AllowedOrigins []string
	// Limits bound the body and its JSON nesting.
	Limits mcp.Limits
	// PolicyDenyStatus is the HTTP status of a policy denial of a JSON-RPC request (200 or 403).
	PolicyDenyStatus int
	// DenyFormat is DenyFormatJSONRPCError ("" too) or DenyFormatToolResult.
	DenyFormat string
	// MaxInFlight bounds concurrent Checks; beyond it a Check is denied (503 overloaded).
	MaxInFlight int
	// DeadlineMargin is kept free before the caller's gRPC deadline: every
	// wait inside Check ends this long before it, so the deny naming the
	// cause is sent in time (an RPC error would lose our reason, and under
	// failure_mode_allow become an allow).
	DeadlineMargin time.Duration
	// DPoPAlgs are advertised in DPoP challenges.
	DPoPAlgs []string
	// DPoPNonces, when set, puts a fresh DPoP-Nonce on every allowed DPoP
	// request's response and on every DPoP challenge (nil: nonces off).
	DPoPNonces NonceIssuer
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
	// Logger receives one debug line per deny (no tokens, no bodies).
	Logger *slog.Logger
	// Observer records every decision (nil: none).
	Observer Observer
	// Tokens gives an allowed request its upstream token (nil: the
	// caller's token passes through).
	Tokens TokenSource
	// Recorder writes the decision log (nil: none).
	Recorder Recorder
	// Tracer starts the Check span and its stage spans (nil: tracing off).
	Tracer trace.Tracer
	// Connections is the connect feature (nil: no providers configured).
	Connections Connections
	// Shadow is the mode of requests that match no hop (mode: shadow);
	// a matched hop's own Shadow decides for its requests.
	Shadow bool
	// Limiter counts the rate limits and budgets of allowed decisions
	// (nil: limits are not counted).
	Limiter Limiter
}

// Server implements envoy.service.auth.v3.Authorization.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	opts      Options
	ident     Verifier
	decider   Decider
	origins   map[string]struct{}
	supported []string
	slots     chan struct{}
	sans      sanCache
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// New returns a Server deciding with ident and decider.
func New(opts Options, ident Verifier, decider Decider) *Server {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 4096
	}
	s := &Server{opts: opts, ident: ident, decider: decider, origins: map[string]struct{}{},
		slots: make(chan struct{}, opts.MaxInFlight), sans: newSANCache()}
	for _, o := range opts.AllowedOrigins {
		s.origins[strings.ToLower(o)] = struct{}{}
	}
	for _, r := range mcp.SupportedRevisions() {
		s.supported = append(s.supported, string(r))
	}
	return s
}

// Successor returns a Server over ident and opts (a configuration reload)
// deciding with s's decider and sharing s's in-flight bound and caches,
// so the bound holds across both while s's last Checks finish.
// opts.MaxInFlight is not used: the bound stays s's.
func (s *Server) Successor(opts Options, ident Verifier) *Server {
	opts.MaxInFlight = s.opts.MaxInFlight
	n := New(opts, ident, s.decider)
	n.slots, n.sans = s.slots, s.sans
	return n
}

// Check decides one request. The returned error is always nil: every
// failure, including a panic, is a deny in the response's status.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, err error) {
	st := &checkState{t: trail{start: s.opts.Clock()}} // one allocation for both
	t, v := &st.t, &st.v                               // v is filled below, under the deferred recover
	var o, wire outcome
	defer func() {
		if r := recover(); r != nil {
			o = s.fail(denial.New(denial.Internal, fmt.Errorf("panic: %v", r)), v.id, hop.Hop{})
			wire, resp, err = o, respond(v, o), nil
		}
		s.observe(v, o, wire, t)
	}()
	ctx = s.begin(ctx, req, t)
	_, timer := s.stage(ctx, t, stageView)
	v.fill(req)
	timer.end()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		o = s.fail(denial.New(denial.Overloaded, errors.New("too many checks in flight")), nil, hop.Hop{})
		wire = o
		return respond(v, o), nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	o = s.decide(ctx, v, t)
	wire = s.guardConnections(s.enforce(o, t))
	_, timer = s.stage(ctx, t, stageResponse)
	resp = respond(v, wire)
	timer.end()
	return resp, nil
}

// checkState is what one Check keeps: its trail and its view.
type checkState struct {
	t trail
	v view
}

// bound ends ctx DeadlineMargin before the caller's deadline (when it has
// one): each step that waits (a key-set refetch, the policy evaluation,
// which also has its own deadline) then gives up in time to answer with the
// deny that names why. A fetch it joined goes on in the background. A
// caller whose whole budget is under twice the margin keeps half of it, so
// a short deadline still leaves the Check time to decide.
func (s *Server) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := min(s.opts.DeadlineMargin, time.Until(dl)/2)
	return context.WithDeadline(ctx, dl.Add(-max(margin, 0)))
}

// observe is the one place a decision is reported: metrics, the deny log,
// the decision log and the trace. o is the decision, wire what was sent
// (they differ only in shadow mode).
func (s *Server) observe(v *view, o, wire outcome, t *trail) {
	d := s.opts.Clock().Sub(t.start)
	if s.opts.Observer != nil {
		s.opts.Observer.ObserveCheck(wire.allow, wire.reason, d)
		if so, ok := s.opts.Observer.(ShadowObserver); ok && t.shadow {
			so.ObserveShadow(o.allow, o.reason)
		}
	}
	if !o.allow {
		s.log(v, o)
	}
	if s.opts.Recorder != nil {
		s.opts.Recorder.Log(s.event(v, o, wire, t, d))
	}
	s.endSpan(o, wire, t)
}

// decide runs the pipeline; the first failing step decides. t collects
// what each step learned.
func (s *Server) decide(ctx context.Context, v *view, t *trail) outcome {
	h, hopOK := s.opts.Hops.Resolve(v.host, v.path, v.ctxExt, v.destPrincipal)
	t.hop, t.hopOK = h, hopOK
	if !hopOK {
		h = s.opts.Hops.Default()
	}
	if err := s.checkBody(v); err != nil {
		return s.fail(err, nil, h)
	}
	if len(v.headers.get("authorization")) == 0 {
		return s.fail(denial.New(denial.TokenMissing, nil), nil, h)
	}
	if !hopOK {
		return s.fail(denial.New(denial.PathNotFound, fmt.Errorf("no MCP endpoint at %q", v.pathOnly())), nil, h)
	}
	if err := firstError(checkMethod(v), checkSingleHeaders(v), checkContent(v), s.checkOrigin(v)); err != nil {
		return s.fail(err, nil, h)
	}
	_, timer := s.stage(ctx, t, stageParse)
	msg, rev, err := s.parse(v)
	timer.end()
	t.msg, t.rev = msg, rev
	if err == nil {
		err = checkFilterMetadata(v.filterMD, msg)
	}
	if err != nil {
		return s.fail(err, idOf(msg), h)
	}
	v.id = msg.ID
	return s.authorize(ctx, v, t, h, msg, rev)
}

// authorize verifies the caller and asks the policy.
func (s *Server) authorize(ctx context.Context, v *view, t *trail, h hop.Hop, msg *mcp.Message, rev mcp.Revision) outcome {
	vctx, timer := s.stage(ctx, t, stageVerify)
	p, err := s.ident.Verify(vctx, s.identityRequest(v, h))
	timer.end()
	if err != nil {
		return s.fail(err, msg.ID, h)
	}
	t.p = p
	t.in = s.input(v, h, msg, rev, p)
	facts, err := s.connectionFacts(ctx, v, msg, rev, p, t.in)
	if err != nil {
		return s.fail(err, msg.ID, h)
	}
	pctx, timer := s.stage(ctx, t, stagePolicy)
	d, err := s.decider.Decide(pctx, t.in)
	timer.end()
	t.meta, t.decision = d.Meta, d // the outcome points to t.decision: no copy of its own
	in := t.in
	if err != nil {
		return s.fail(err, msg.ID, h)
	}
	o := s.limit(ctx, s.afterDecision(ctx, s.fromDecision(&t.decision, msg, h), facts, msg, rev, p, h), v, t, h)
	o.input = in // the handoff of an allow (shadow mode allows policy denials too)
	if !o.allow {
		return o
	}
	if p.TokenType == "DPoP" {
		o.nonce = s.freshNonce()
	}
	return s.credentials(ctx, o, v, h, in, p)
}

// freshNonce issues a DPoP server nonce, or "" when nonces are off (or
// issuing failed: the response then simply carries none).
func (s *Server) freshNonce() string {
	if s.opts.DPoPNonces == nil {
		return ""
	}
	n, err := s.opts.DPoPNonces.Issue()
	if err != nil {
		s.opts.Logger.Warn("dpop: issuing a server nonce failed", "error", err)
		return ""
	}
	return n
}

// parse reads the JSON-RPC message of a POST and its protocol revision; a
// GET or DELETE carries no body and is judged on its headers.
func (s *Server) parse(v *view) (*mcp.Message, mcp.Revision, error) {
	if v.method != "POST" {
		rev, ok := mcp.ParseRevision(v.first("mcp-protocol-version"))
		if !ok {
			return nil, "", &mcp.Error{Code: mcp.CodeUnsupportedVersion, Msg: "unsupported protocol version"}
		}
		if rev == mcp.Rev20260728 {
			return nil, "", denial.New(denial.MethodNotAllowed, fmt.Errorf("%s in stateless revision %s", v.method, rev))
		}
		return &mcp.Message{Kind: mcp.KindNone}, rev, nil
	}
	msg, err := v.parseBody(s.opts.Limits)
	if err != nil {
		return nil, "", err
	}
	rev, err := mcp.SelectRevision(v.first("mcp-protocol-version"), msg)
	if err != nil {
		return msg, "", err
	}
	if err := mcp.CheckHeaders(rev, msg, v); err != nil {
		return msg, "", err
	}
	return msg, rev, nil
}

func (s *Server) identityRequest(v *view, h hop.Hop) identity.Request {
	return identity.Request{
		Authorization: v.headers.get("authorization"),
		DPoP:          v.headers.get("dpop"),
		Method:        v.method,
		Path:          v.path,
		Resource:      h.Resource,
		PublicOrigin:  h.PublicOrigin,
	}
}

// log writes one debug line per deny: reason and cause, never credentials.
func (s *Server) log(v *view, o outcome) {
	if !s.opts.Logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s.opts.Logger.Debug("deny", "reason", o.reason, "status", o.status, "request_id", v.requestID,
		"method", v.method, "path", v.pathOnly(), redact.Attr("cause", o.cause))
}

func idOf(m *mcp.Message) json.RawMessage {
	if m == nil {
		return nil
	}
	return m.ID
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
