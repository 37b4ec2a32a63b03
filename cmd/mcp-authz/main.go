// Command mcp-authz is the MCP authorization service for Envoy ext_authz,
// and the tools around it: an offline check of a CheckRequest, dev tokens
// and requests for trying it without Envoy, and the tool registry's pin and
// verify. Each subcommand is thin: flags, then a package call.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `mcp-authz: policy-as-code authorization for MCP traffic behind Envoy.

usage:
  mcp-authz serve --config FILE                 run the ext_authz gRPC service
  mcp-authz check -f request.json [--explain]   decide one Envoy CheckRequest offline (or --addr to send it)
  mcp-authz dev token --sub alice --roles admin mint a test-only token with examples/dev keys
  mcp-authz dev request --token T --tool NAME   print an Envoy-shaped CheckRequest for an MCP call
  mcp-authz registry pin --server S --url URL --file F     pin a live MCP server's tools
  mcp-authz registry verify --server S --url URL --file F  exit 1 with a diff when they drifted
  mcp-authz bundle build --dir policies --out B.tar.gz [--signing-key K]  build an (optionally signed) OPA bundle
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve":    serve,
		"check":    check,
		"dev":      dev,
		"registry": registryCmd,
		"bundle":   bundleCmd,
	}
	fn, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] != "serve" { // serve handles its own signals: the second one skips the lame duck
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
	}
	if err := fn(ctx, args[1:], stdout, stderr); err != nil {
		if ec, ok := err.(exitCode); ok {
			return int(ec)
		}
		fmt.Fprintf(stderr, "mcp-authz %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// exitCode is returned by a subcommand that already reported its result.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }
