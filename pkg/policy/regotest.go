package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/tester"
)

// regoTestTimeout bounds one Rego test.
const regoTestTimeout = 10 * time.Second

// RunRegoTests runs the Rego tests (test_* rules) under dir with OPA's v1
// tester, compiled the way Activate compiles a bundle: input type-checked
// against the input schema, network built-ins refused, built-in errors
// raised. It returns every result; the caller decides what fails.
func RunRegoTests(ctx context.Context, dir string) ([]*tester.Result, error) {
	s, err := loadSchemas()
	if err != nil {
		return nil, fmt.Errorf("policy: embedded schemas: %w", err)
	}
	modules, store, err := tester.Load([]string{dir}, nil)
	if err != nil {
		return nil, fmt.Errorf("policy: load rego tests from %s: %w", dir, err)
	}
	runner := tester.NewRunner().
		SetCompiler(newCompiler(s.input, unsafeBuiltins(false))).
		SetStore(store).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		SetTimeout(regoTestTimeout)
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("policy: run rego tests in %s: %w", dir, err)
	}
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	return results, nil
}
