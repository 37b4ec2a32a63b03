package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/redact"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// methodToolsCall is the one method whose tool the registry judges.
const methodToolsCall = "tools/call"

var (
	errNoBundle  = errors.New("no policy bundle is active")
	errNilInput  = errors.New("nil input")
	errUndefined = errors.New("decision is undefined")
)

// Decide evaluates the active bundle's decision for in. It first completes
// in from the bundle's registry: Resource.Server (when empty) from
// Resource.ID, and, for tools/call, Tool; Request.Time is set from the clock
// when empty. Every failure is a *denial.Error: no_policy before the first
// Activate, deadline_exceeded when the evaluation outlives Options.Deadline
// or ctx, policy_error for an evaluation error or a malformed decision.
func (e *Engine) Decide(ctx context.Context, in *Input) (Decision, error) {
	return e.decide(ctx, in, nil)
}

// Explain is Decide with a trace: besides the decision it returns one line
// per rule that produced a value (and each trace() note), in evaluation
// order, for `mcp-authz check --explain`.
func (e *Engine) Explain(ctx context.Context, in *Input) (Decision, []string, error) {
	tracer := topdown.NewBufferTracer()
	d, err := e.decide(ctx, in, tracer)
	return d, explainLines(*tracer), err
}

// decide is Decide with an optional tracer.
func (e *Engine) decide(ctx context.Context, in *Input, tracer topdown.QueryTracer) (Decision, error) {
	snap := e.cur.Load()
	if snap == nil {
		return Decision{}, denial.New(denial.NoPolicy, errNoBundle)
	}
	return e.decideOn(ctx, snap, in, tracer, e.opts.Deadline)
}

// decideOn evaluates in on one snapshot within deadline: Decide on the
// active one, the smoke check on one not yet active.
func (e *Engine) decideOn(ctx context.Context, snap *snapshot, in *Input, tracer topdown.QueryTracer, deadline time.Duration) (Decision, error) {
	if in == nil {
		return Decision{}, denial.New(denial.Internal, errNilInput)
	}
	now := e.opts.Clock()
	meta := Meta{Revision: snap.revision}
	hash, err := snap.enrichTimed(ctx, in, e.opts.Drift, e.opts.Clock, &meta)
	if err != nil {
		return Decision{Meta: meta}, err
	}
	meta.ManifestHash = hash
	if in.Tool != nil {
		meta.ArgumentRules = snap.argumentRules(in.Tool.ID)
	}
	if in.Request.Time == "" {
		in.Request.Time = now.UTC().Format(time.RFC3339Nano)
	}
	if err := ctx.Err(); err != nil {
		return Decision{Meta: meta}, denial.New(denial.Deadline, fmt.Errorf("before evaluation: %w", err))
	}
	key, memoOK := snap.keyOf(in, tracer)
	if memoOK {
		if d, hit := snap.memo.get(key); hit { // a copy: callers may change its maps
			meta.Cached = true
			d.Meta = meta
			return d, nil
		}
	}
	// Only an evaluation gets its own deadline: a hit's work is bounded by
	// the key's size, and a timer per Check was a measurable share of a
	// loaded server's CPU.
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	if err := ctx.Err(); err != nil { // OPA notices a cancelled context only asynchronously
		return Decision{Meta: meta}, denial.New(denial.Deadline, fmt.Errorf("before evaluation: %w", err))
	}
	t, err := snap.eval(ctx, inputValue(in), now, tracer)
	if err != nil {
		return Decision{Meta: meta}, err
	}
	d, err := decodeDecision(t.Value)
	if err == nil && memoOK {
		snap.memo.put(key, d)
	}
	return withMeta(d, err, snap, meta)
}

// eval evaluates the decision query on input: its one result, as a term.
func (s *snapshot) eval(ctx context.Context, input ast.Value, now time.Time, tracer topdown.QueryTracer) (*ast.Term, error) {
	opts := []rego.EvalOption{rego.EvalParsedInput(input), rego.EvalTime(now)}
	if tracer != nil {
		opts = append(opts, rego.EvalQueryTracer(tracer))
	}
	rs, err := s.query.Eval(ctx, opts...)
	if err != nil {
		return nil, evalError(ctx, err)
	}
	t, err := resultTerm(rs)
	if err != nil {
		return nil, denial.New(denial.PolicyError, fmt.Errorf("revision %q: %w", s.revision, err))
	}
	return t, nil
}

// withMeta returns a decoded decision with its meta, or the policy_error
// of a malformed one.
func withMeta(d Decision, err error, snap *snapshot, meta Meta) (Decision, error) {
	if err != nil {
		return Decision{Meta: meta}, denial.New(denial.PolicyError, fmt.Errorf("revision %q: %w", snap.revision, err))
	}
	d.Meta = meta
	return d, nil
}

// enrichTimed is enrich in a "registry" span (a child of the caller's
// span, a no-op when tracing is off), timed into meta.
func (s *snapshot) enrichTimed(ctx context.Context, in *Input, drift registry.DriftSource, clock func() time.Time, meta *Meta) (string, error) {
	_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer(tracerName).Start(ctx, "registry")
	defer span.End()
	start := clock()
	hash, err := s.enrich(in, drift)
	meta.Registry = clock().Sub(start)
	return hash, err
}

// tracerName names the spans this package starts.
const tracerName = "github.com/mcp-authz/mcp-authz/pkg/policy"

// argumentRules returns the decision-log masking rules of a tool: its own,
// else the bundle's "*" rules, else nil (erase).
func (s *snapshot) argumentRules(toolID string) []decisionlog.MaskRule {
	if r, ok := s.logRules[toolID]; ok {
		return r
	}
	return s.logRules["*"]
}

// enrich completes in from the registry of this revision. For a 2026-07-28
// tools/call it also checks the Mcp-Param-* headers mirrored from the
// arguments (x-mcp-header): intermediaries route and log on them, so they
// must equal what the server executes (header_mismatch, JSON-RPC -32020).
func (s *snapshot) enrich(in *Input, drift registry.DriftSource) (string, error) {
	if in.Resource.Server == "" {
		if server, ok := s.reg.ServerForResource(in.Resource.ID); ok {
			in.Resource.Server = server
		}
	}
	if in.MCP.Method != methodToolsCall {
		return "", nil
	}
	if in.MCP.Revision == revisionStateless {
		header := func(name string) []string {
			if v, ok := in.HTTP.Headers[name]; ok {
				return []string{v}
			}
			return nil
		}
		if err := s.reg.CheckParamHeaders(in.Resource.Server, in.MCP.Tool, in.MCP.Arguments, header); err != nil {
			return "", denial.New(denial.HeaderMismatch, err)
		}
	}
	v := s.reg.Check(in.Resource.Server, in.MCP.Tool, in.MCP.Arguments, drift)
	in.Tool = &Tool{
		ID:             v.ID,
		Registered:     v.Registered,
		Approved:       v.Approved,
		Drifted:        v.Drifted,
		DriftReason:    v.DriftReason,
		ArgumentsValid: v.ArgumentsValid,
		ArgumentsError: v.ArgumentsError,
		Annotations:    v.Annotations,
	}
	return v.Hash, nil
}

// revisionStateless is the MCP revision with Mcp-Param-* headers.
const revisionStateless = "2026-07-28"

// ApprovedHashes returns tool name → approved hash of server in the active
// revision (nil when none is active): what drift watch compares live
// manifests against.
func (e *Engine) ApprovedHashes(server string) map[string]string {
	snap := e.cur.Load()
	if snap == nil {
		return nil
	}
	return snap.reg.ApprovedHashes(server)
}

// evalError classifies an evaluation failure: running out of time (ours or
// the caller's) is deadline_exceeded, anything else policy_error. OPA's
// message is never kept: a builtin error quotes the operand it failed on,
// which may be a tool argument (redactedEval).
func evalError(ctx context.Context, err error) error {
	if ctx.Err() != nil || topdown.IsCancel(err) {
		return denial.New(denial.Deadline, fmt.Errorf("policy evaluation: %w", redactedEval(err)))
	}
	return denial.New(denial.PolicyError, fmt.Errorf("policy evaluation: %w", redactedEval(err)))
}

// redactedEval wraps an OPA evaluation error at our boundary: its code and
// the policy location (file:row) survive, its message (which quotes input
// values) does not.
func redactedEval(err error) error {
	var te *topdown.Error
	if !errors.As(err, &te) {
		return redact.Wrap("policy_eval_error", err)
	}
	detail := te.Code
	if loc := te.Location; loc != nil {
		detail = fmt.Sprintf("%s at %s:%d", te.Code, loc.File, loc.Row)
	}
	return redact.WrapDetail("policy_eval_error", detail, err)
}

// resultTerm requires exactly one result holding one value, an AST term
// (keepTerm).
func resultTerm(rs rego.ResultSet) (*ast.Term, error) {
	switch {
	case len(rs) == 0:
		return nil, errUndefined
	case len(rs) > 1:
		return nil, fmt.Errorf("decision has %d results; want 1", len(rs))
	case len(rs[0].Expressions) != 1:
		return nil, fmt.Errorf("decision has %d expressions; want 1", len(rs[0].Expressions))
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("decision result is %T; want *ast.Term", rs[0].Expressions[0].Value)
	}
	return t, nil
}
