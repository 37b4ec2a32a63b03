package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// bundleCmd builds an OPA bundle (.tar.gz with a .manifest naming the
// revision and roots) from a policies/ directory, optionally signed, for a
// bundle server or for `bundle.path`. `make bundle` without a signing key
// regenerates the embedded default instead.
func bundleCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	fs := flag.NewFlagSet("bundle build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "policies", "policy directory (policies/ layout: rego, data.json, mcp/servers/*/data.json)")
	out := fs.String("out", "bundle.tar.gz", "bundle file to write")
	revision := fs.String("revision", "", "bundle revision (default: content digest)")
	key := fs.String("signing-key", "", "PEM private key to sign the bundle with (optional)")
	alg := fs.String("signing-alg", "", "JWS algorithm of the signature (default: from the key: RS256 for RSA, ES256/384/512 by curve)")
	kid := fs.String("signing-kid", "default", "key id recorded in the signature")
	scope := fs.String("scope", "", "scope claim of the signature (a service with bundle.scope accepts only its own)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitCode(2)
	}
	if *revision == "" {
		digest, err := policy.DigestDir(*dir)
		if err != nil {
			return err
		}
		*revision = "sha256-" + digest[:16]
	}
	var signing *policy.SigningConfig
	if *key != "" {
		signing = &policy.SigningConfig{KeyFile: *key, Algorithm: *alg, KeyID: *kid, Scope: *scope}
	} else if *scope != "" {
		fmt.Fprintln(stderr, "bundle build: -scope needs -signing-key")
		return exitCode(2)
	}
	tgz, err := policy.BuildBundle(*dir, *revision, signing)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, tgz, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (revision %s, %d bytes, signed: %t)\n", *out, *revision, len(tgz), signing != nil)
	return nil
}
