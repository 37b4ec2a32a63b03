package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// The response processor's questions. They use the same bundle, the same
// input document and the same rules as Check: a list is filtered by asking
// the call rules about every item at once, and a tool result is judged by
// its own rule.
const (
	// ListQuery is asked once per list result: the set of item names the
	// caller may see (input.list holds every listed item).
	ListQuery = "data.mcp.list.allowed"
	// OutputQuery is asked once per tools/call result (input.output).
	OutputQuery = "data.mcp.output.decision"
	// DefaultResponseDeadline bounds one response evaluation: a list or a
	// tool result is larger than a request, and no Check waits on it.
	DefaultResponseDeadline = 250 * time.Millisecond
	// maxRedactions bounds the paths an output decision may name.
	maxRedactions = 10000
)

var errNoRule = errors.New("the bundle defines no such rule")

// OutputDecision is data.mcp.output.decision.
type OutputDecision struct {
	// Block replaces the result with a JSON-RPC error carrying Reason.
	Block bool
	// Reason is the stable snake_case reason ("allowed" when not blocked).
	Reason string
	// Redact are the paths (member names and array indexes) inside the
	// result of strings to replace.
	Redact [][]any
}

// Registry returns the active revision's tool registry (nil when none).
func (e *Engine) Registry() *registry.Registry {
	if snap := e.cur.Load(); snap != nil {
		return snap.reg
	}
	return nil
}

// Drift returns the drift source Decide consults (nil without one).
func (e *Engine) Drift() registry.DriftSource { return e.opts.Drift }

// ListAllowed asks data.mcp.list.allowed about in.List once and returns the
// allowed names. Failures are *denial.Error like Decide's.
func (e *Engine) ListAllowed(ctx context.Context, in *Input) (map[string]bool, error) {
	v, err := e.evalResponse(ctx, in, func(s *snapshot) *rego.PreparedEvalQuery { return s.list })
	if err != nil {
		return nil, err
	}
	set, ok := v.(ast.Set)
	if !ok {
		return nil, denial.New(denial.PolicyError, fmt.Errorf("%s is %s; want a set", ListQuery, ast.ValueName(v)))
	}
	out := make(map[string]bool, set.Len())
	err = set.Iter(func(t *ast.Term) error {
		s, ok := t.Value.(ast.String)
		if !ok {
			return fmt.Errorf("%s holds a %s; want strings", ListQuery, ast.ValueName(t.Value))
		}
		out[string(s)] = true
		return nil
	})
	if err != nil {
		return nil, denial.New(denial.PolicyError, err)
	}
	return out, nil
}

// JudgeOutput asks data.mcp.output.decision about in.Output.
func (e *Engine) JudgeOutput(ctx context.Context, in *Input) (OutputDecision, error) {
	v, err := e.evalResponse(ctx, in, func(s *snapshot) *rego.PreparedEvalQuery { return s.output })
	if err != nil {
		return OutputDecision{}, err
	}
	d, err := decodeOutput(v)
	if err != nil {
		return OutputDecision{}, denial.New(denial.PolicyError, fmt.Errorf("%s: %w", OutputQuery, err))
	}
	return d, nil
}

// evalResponse evaluates the query pick selects from the active revision.
func (e *Engine) evalResponse(ctx context.Context, in *Input, pick func(*snapshot) *rego.PreparedEvalQuery) (ast.Value, error) {
	snap := e.cur.Load()
	if snap == nil {
		return nil, denial.New(denial.NoPolicy, errNoBundle)
	}
	q := pick(snap)
	if q == nil {
		return nil, denial.New(denial.PolicyError, fmt.Errorf("revision %q: %w", snap.revision, errNoRule))
	}
	now := e.opts.Clock()
	if in.Request.Time == "" {
		in.Request.Time = now.UTC().Format(time.RFC3339Nano)
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.ResponseDeadline)
	defer cancel()
	rs, err := q.Eval(ctx, rego.EvalParsedInput(inputValue(in)), rego.EvalTime(now))
	if err != nil {
		return nil, evalError(ctx, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, denial.New(denial.PolicyError, errUndefined)
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, denial.New(denial.PolicyError, errors.New("result is not a term"))
	}
	return t.Value, nil
}

// decodeOutput reads {"block": bool, "reason": snake_case, "redact": [[...]]}.
func decodeOutput(v ast.Value) (OutputDecision, error) {
	var d OutputDecision
	seen := map[string]bool{}
	err := asObject(v, map[string]func(ast.Value) error{
		"block":  func(v ast.Value) (err error) { seen["block"] = true; d.Block, err = asBool(v); return err },
		"reason": func(v ast.Value) (err error) { seen["reason"] = true; d.Reason, err = asReason(v); return err },
		"redact": func(v ast.Value) (err error) { d.Redact, err = asPaths(v); return err },
	})
	if err != nil {
		return OutputDecision{}, err
	}
	if !seen["block"] || !seen["reason"] {
		return OutputDecision{}, errors.New("block and reason are required")
	}
	return d, nil
}

// asPaths reads an array of paths, each an array of strings and
// non-negative integers.
func asPaths(v ast.Value) ([][]any, error) {
	arr, ok := v.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("is %s; want array", ast.ValueName(v))
	}
	if arr.Len() > maxRedactions {
		return nil, fmt.Errorf("%d paths; want at most %d", arr.Len(), maxRedactions)
	}
	out := make([][]any, 0, arr.Len())
	for i := range arr.Len() {
		p, ok := arr.Elem(i).Value.(*ast.Array)
		if !ok {
			return nil, fmt.Errorf("[%d] is %s; want array", i, ast.ValueName(arr.Elem(i).Value))
		}
		path := make([]any, 0, p.Len())
		for j := range p.Len() {
			switch x := p.Elem(j).Value.(type) {
			case ast.String:
				path = append(path, string(x))
			case ast.Number:
				n, ok := x.Int()
				if !ok || n < 0 {
					return nil, fmt.Errorf("[%d][%d] is not an index", i, j)
				}
				path = append(path, n)
			default:
				return nil, fmt.Errorf("[%d][%d] is %s; want string or index", i, j, ast.ValueName(x))
			}
		}
		out = append(out, path)
	}
	return out, nil
}
