package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// bundleName names the bundle's modules inside the compiler.
const bundleName = "bundle"

// prepare runs every load-time check on b and returns its prepared snapshot.
func (e *Engine) prepare(ctx context.Context, b *bundle.Bundle) (*snapshot, error) {
	s, err := loadSchemas()
	if err != nil {
		return nil, fmt.Errorf("embedded schemas: %w", err)
	}
	if err := validateData(s, b.Data); err != nil {
		return nil, err
	}
	reg, err := loadRegistry(b.Data)
	if err != nil {
		return nil, err
	}
	modules, err := parsedModules(b)
	if err != nil {
		return nil, err
	}
	c := newCompiler(s.input, e.unsafe)
	if c.Compile(modules); c.Failed() {
		return nil, fmt.Errorf("compile: %w", c.Errors)
	}
	if err := checkEntrypoint(c, e.opts.Query); err != nil {
		return nil, err
	}
	pq, err := e.prepareQuery(ctx, c, b.Data, e.opts.Query)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{revision: b.Manifest.Revision, query: pq, reg: reg}
	if snap.memo, err = newMemo(c, e.opts.DecisionCache); err != nil {
		snap.memo, snap.memoOff = nil, err.Error()
	}
	if snap.list, err = e.prepareOptional(ctx, c, b.Data, ListQuery); err != nil {
		return nil, err
	}
	if snap.output, err = e.prepareOptional(ctx, c, b.Data, OutputQuery); err != nil {
		return nil, err
	}
	if snap.logRules, err = loadLogRules(b.Data); err != nil {
		return nil, err
	}
	return snap, nil
}

// newCompiler returns a compiler that type-checks input against the input
// schema and refuses the unsafe built-ins: they are left out of the
// compiler's capabilities, so a module calling one fails to compile.
func newCompiler(input *ast.SchemaSet, unsafe map[string]struct{}) *ast.Compiler {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0:0]
	for _, b := range caps.Builtins {
		if _, drop := unsafe[b.Name]; !drop {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	return ast.NewCompiler().
		WithCapabilities(caps).
		WithSchemas(input).
		WithEnablePrintStatements(false)
}

// prepareOptional prepares query when the bundle defines its rule (nil
// otherwise: the response processor then refuses what it would judge).
func (e *Engine) prepareOptional(ctx context.Context, c *ast.Compiler, data map[string]any, query string) (*rego.PreparedEvalQuery, error) {
	if checkEntrypoint(c, query) != nil {
		return nil, nil
	}
	pq, err := e.prepareQuery(ctx, c, data, query)
	if err != nil {
		return nil, err
	}
	return &pq, nil
}

// prepareQuery prepares query once for this revision.
func (e *Engine) prepareQuery(ctx context.Context, c *ast.Compiler, data map[string]any, query string) (rego.PreparedEvalQuery, error) {
	if data == nil {
		data = map[string]any{}
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptRoundTripOnWrite(true), inmem.OptReturnASTValuesOnRead(true))
	r := rego.New(
		rego.Query(query),
		rego.Compiler(c),
		rego.Store(store),
		rego.StoreReadAST(true),
		rego.StrictBuiltinErrors(true),
		rego.UnsafeBuiltins(e.unsafe),
		rego.GenerateJSON(keepTerm),
	)
	pq, err := r.PrepareForEval(ctx)
	if err != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("prepare %s: %w", query, err)
	}
	return pq, nil
}

// keepTerm hands results back as AST terms so decodeDecision can check
// their types exactly (no JSON conversion on the hot path).
func keepTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

// checkEntrypoint refuses a bundle that does not define the decision rule:
// it would deny every request with policy_error.
func checkEntrypoint(c *ast.Compiler, query string) error {
	ref, err := ast.ParseRef(query)
	if err != nil {
		return fmt.Errorf("decision query %q is not a reference: %w", query, err)
	}
	if len(c.GetRulesForVirtualDocument(ref)) == 0 && len(c.GetRulesWithPrefix(ref)) == 0 {
		return fmt.Errorf("bundle defines no rule for %s", query)
	}
	return nil
}

// parsedModules returns b's modules keyed for the compiler, parsing any that
// arrived unparsed (a hand-built bundle).
func parsedModules(b *bundle.Bundle) (map[string]*ast.Module, error) {
	out := make(map[string]*ast.Module, len(b.Modules))
	for _, m := range b.Modules {
		parsed := m.Parsed
		if parsed == nil {
			var err error
			parsed, err = ast.ParseModuleWithOpts(m.Path, string(m.Raw), ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				return nil, fmt.Errorf("parse %s: %w", m.Path, err)
			}
		}
		out[bundleName+"/"+m.Path] = parsed
	}
	return out, nil
}

// loadRegistry builds the tool registry from the data under mcp.
func loadRegistry(data map[string]any) (*registry.Registry, error) {
	mcpData := map[string]any{}
	if raw, ok := data["mcp"]; ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, errors.New("bundle data at mcp is not an object")
		}
		mcpData = m
	}
	reg, err := registry.Load(mcpData, registry.Options{})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return reg, nil
}

// loadLogRules reads data.mcp.decision_log.arguments: the masking rules of
// the decision log, per canonical tool id or "*".
func loadLogRules(data map[string]any) (map[string][]decisionlog.MaskRule, error) {
	m, _ := data["mcp"].(map[string]any)
	dl, _ := m["decision_log"].(map[string]any)
	args, _ := dl["arguments"].(map[string]any)
	out := make(map[string][]decisionlog.MaskRule, len(args))
	for tool, raw := range args {
		rules, err := decisionlog.ParseMaskRules(raw)
		if err != nil {
			return nil, fmt.Errorf("data.mcp.decision_log.arguments[%q]: %w", tool, err)
		}
		out[tool] = rules
	}
	return out, nil
}
