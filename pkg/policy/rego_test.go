package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/tester"
)

// policiesDir is the product policy library.
const policiesDir = "../../policies"

// requirePassing fails on any failed or errored Rego test, and on none.
func requirePassing(t *testing.T, dir string) {
	t.Helper()
	results, err := RunRegoTests(context.Background(), dir)
	if err != nil {
		t.Fatalf("RunRegoTests(%s) = %v", dir, err)
	}
	if len(results) == 0 {
		t.Fatalf("RunRegoTests(%s) ran no tests; want > 0", dir)
	}
	for _, r := range results {
		switch {
		case r.Error != nil:
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		case r.Fail:
			t.Errorf("%s.%s: FAIL at %v", r.Package, r.Name, r.FailedAt)
		case r.Skip:
			t.Errorf("%s.%s: skipped; skipped tests are not allowed", r.Package, r.Name)
		}
	}
	t.Logf("%s: %d Rego tests", dir, len(results))
}

func TestRegoTestdata(t *testing.T) { requirePassing(t, testdataPolicies) }

func TestRegoPolicies(t *testing.T) { requirePassing(t, policiesDir) }

func TestRunRegoTestsReportsFailures(t *testing.T) {
	dir := t.TempDir()
	src := "package mcp.x_test\n\ntest_fails if false\n\ntest_errors if to_number(\"x\")\n\ntest_passes if true\n"
	if err := os.WriteFile(filepath.Join(dir, "x_test.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	results, err := RunRegoTests(context.Background(), dir)
	if err != nil {
		t.Fatalf("RunRegoTests() = %v", err)
	}
	got := map[string]string{}
	for _, r := range results {
		got[r.Name] = outcome(r)
	}
	want := map[string]string{"test_fails": "fail", "test_errors": "error", "test_passes": "pass"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %q; want %q", name, got[name], w)
		}
	}
}

func TestRunRegoTestsChecksInputSchema(t *testing.T) {
	dir := t.TempDir()
	src := "package mcp.x_test\n\ntest_typo if input.http.methd == \"POST\"\n"
	if err := os.WriteFile(filepath.Join(dir, "x_test.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RunRegoTests(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "methd") {
		t.Errorf("RunRegoTests(input.http.methd) = %v; want a type error naming methd", err)
	}
}

func outcome(r *tester.Result) string {
	switch {
	case r.Error != nil:
		return "error"
	case r.Fail:
		return "fail"
	}
	return "pass"
}

// regoFiles lists the .rego files under dir.
func regoFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".rego") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no .rego files under %s (%v)", dir, err)
	}
	return files
}

// TestPoliciesStrict is `opa check --strict` over every module and test,
// with the input schema and the network ban of Activate on top.
func TestPoliciesStrict(t *testing.T) {
	for _, dir := range []string{policiesDir, testdataPolicies} {
		modules := map[string]*ast.Module{}
		for _, f := range regoFiles(t, dir) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ast.ParseModuleWithOpts(f, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
			if err != nil {
				t.Errorf("parse %s: %v", f, err)
				continue
			}
			modules[f] = m
		}
		s, err := loadSchemas()
		if err != nil {
			t.Fatal(err)
		}
		c := newCompiler(s.input, unsafeBuiltins(false)).WithStrict(true)
		if c.Compile(modules); c.Failed() {
			t.Errorf("strict compile of %s: %v", dir, c.Errors)
		}
	}
}

// TestPoliciesFormatted is `opa fmt --diff`: every file is as opa fmt writes it.
func TestPoliciesFormatted(t *testing.T) {
	for _, dir := range []string{policiesDir, testdataPolicies} {
		for _, f := range regoFiles(t, dir) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := format.Source(f, src)
			if err != nil {
				t.Errorf("format.Source(%s) = %v", f, err)
				continue
			}
			if !bytes.Equal(got, src) {
				t.Errorf("%s is not formatted; run opa fmt -w %s", f, f)
			}
		}
	}
}

// TestPoliciesActivate activates the product policies as the default bundle
// would be and checks a few decisions end to end through the registry.
func TestPoliciesActivate(t *testing.T) {
	b, err := LoadBundleDir(policiesDir)
	if err != nil {
		t.Fatalf("LoadBundleDir(%s) = %v", policiesDir, err)
	}
	e := newEngine(t, Options{}, b)
	tests := []struct {
		name   string
		in     *Input
		allow  bool
		reason string
	}{
		{"tools/list", productInput("tools/list", "", "analyst"), true, "allowed"},
		{"unknown method", productInput("x/unknown", "", "admin"), false, "unknown_method"},
		{"unregistered tool", productInput("tools/call", "no_such_tool", "admin"), false, "tool_not_registered"},
		{"analyst search_issues", toolsCall("search_issues", "analyst"), true, "allowed"},
		{"support delete_repo", productInput("tools/call", "delete_repo", "support"), false, "tool_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), tc.in)
			if err != nil {
				t.Fatalf("Decide() error = %v", err)
			}
			if d.Allow != tc.allow || d.Reason != tc.reason {
				t.Errorf("Decide() = allow %v reason %q; want allow %v reason %q", d.Allow, d.Reason, tc.allow, tc.reason)
			}
		})
	}
}

// productInput is a request for the reference hop of policies/.
func productInput(method, tool string, roles ...string) *Input {
	in := toolsCall(tool, roles...)
	in.MCP.Method, in.MCP.Name = method, tool
	in.MCP.KnownMethod = method == "tools/list" || method == "tools/call"
	if method != "tools/call" {
		in.MCP.Tool, in.MCP.Arguments = "", nil
	}
	return in
}
