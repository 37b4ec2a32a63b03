// Command gen regenerates bundles/default.tar.gz from policies/; the
// Makefile's bundle target runs it from the module root:
//
//	go run ./bundles/gen [-policies policies] [-out bundles/default.tar.gz]
//
// It imports pkg/policy only (not package bundles, which embeds its output),
// so it runs even when default.tar.gz is missing; the bundles test checks
// that its output equals bundles.Build.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

func main() {
	policies := flag.String("policies", "policies", "policy directory (the policies/ layout)")
	out := flag.String("out", "bundles/default.tar.gz", "bundle tarball to write")
	flag.Parse()
	if err := run(*policies, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bundlegen:", err)
		os.Exit(1)
	}
}

// run builds the bundle and replaces out atomically.
func run(policies, out string) error {
	digest, err := policy.DigestDir(policies)
	if err != nil {
		return err
	}
	// The revision rule of bundles.Revision: "default-" + 12 hex.
	tgz, err := policy.BuildBundle(policies, "default-"+digest[:12], nil)
	if err != nil {
		return err
	}
	b, err := policy.LoadBundleBytes(tgz)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".default-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(tgz); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Printf("wrote %s: revision %s, %d modules, %d bytes\n", out, b.Manifest.Revision, len(b.Modules), len(tgz))
	return nil
}
