package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-authz/mcp-authz/bundles"
)

// TestRunMatchesBuild checks that the generator writes what bundles.Build
// builds, the bytes the bundles package's freshness test compares with.
func TestRunMatchesBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "default.tar.gz")
	if err := run("../../policies", out); err != nil {
		t.Fatalf("run() = %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := bundles.Build("../../policies")
	if err != nil {
		t.Fatalf("bundles.Build() = %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Error("run() output differs from bundles.Build(); the revision rules have diverged")
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	if err := run(filepath.Join(dir, "missing"), filepath.Join(dir, "out.tar.gz")); err == nil {
		t.Error("run(missing policies) = nil; want an error")
	}
	if err := run("../../policies", filepath.Join(dir, "no", "such", "dir", "out.tar.gz")); err == nil {
		t.Error("run(unwritable out) = nil; want an error")
	}
}
