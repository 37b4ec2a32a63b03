package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// registryFlags are shared by pin and verify.
type registryFlags struct {
	server, url, file, token, tokenFile, resource string
}

func parseRegistryFlags(name string, args []string, stderr io.Writer) (registryFlags, error) {
	var f registryFlags
	fs := flag.NewFlagSet("registry "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.server, "server", "", "registry name of the upstream MCP server, e.g. issues")
	fs.StringVar(&f.url, "url", "", "the server's Streamable HTTP endpoint")
	fs.StringVar(&f.file, "file", "", "registry data file (default policies/mcp/servers/<server>/data.json)")
	fs.StringVar(&f.token, "token", "", "bearer token for the server (prefer --token-file)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token")
	fs.StringVar(&f.resource, "resource", "", "the hop's resource identifier (pin: kept from the file when empty)")
	if err := fs.Parse(args); err != nil || f.server == "" || f.url == "" {
		fs.Usage()
		return f, exitCode(2)
	}
	if f.file == "" {
		f.file = "policies/mcp/servers/" + f.server + "/data.json"
	}
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return f, err
		}
		f.token = strings.TrimSpace(string(b))
	}
	return f, nil
}

func registryCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "pin" && args[0] != "verify") {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	f, err := parseRegistryFlags(args[0], args[1:], stderr)
	if err != nil {
		return err
	}
	live, err := registry.FetchTools(ctx, f.url, f.token, registry.FetchOptions{})
	if err != nil {
		return err
	}
	if args[0] == "pin" {
		return pin(f, live, stdout)
	}
	return verify(f, live, stdout)
}

// pin writes the live tools as the approved manifests and prints what
// changed against the previous pin, for review.
func pin(f registryFlags, live map[string]map[string]any, stdout io.Writer) error {
	prev, err := registry.ReadServerFile(f.file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	resource := f.resource
	if resource == "" && prev != nil {
		resource = prev.Resource
	}
	if resource == "" {
		return errors.New("--resource is required for a first pin")
	}
	sd, changes := registry.Pin(f.server, resource, live, prev)
	if err := registry.WriteServerFile(f.file, sd); err != nil {
		return err
	}
	printChanges(stdout, changes)
	fmt.Fprintf(stdout, "pinned %d tools of %s in %s; review the diff, then `make bundle`\n", len(sd.Tools), f.server, f.file)
	return nil
}

// verify exits 1 with the diff when the live tools differ from the pin.
func verify(f registryFlags, live map[string]map[string]any, stdout io.Writer) error {
	pinned, err := registry.ReadServerFile(f.file)
	if err != nil {
		return err
	}
	printContentHashes(stdout, f.server, live)
	changes := registry.Diff(f.server, pinned, live)
	if len(changes) == 0 {
		fmt.Fprintf(stdout, "%s: %d tools match the pinned manifests\n", f.server, len(live))
		return nil
	}
	printChanges(stdout, changes)
	return exitCode(1)
}

// printContentHashes prints the SEP-3140 content hash of every live tool,
// the form a pin's content_hash takes, one "server/tool content_hash h" line
// each, sorted.
func printContentHashes(w io.Writer, server string, live map[string]map[string]any) {
	for _, name := range slices.Sorted(maps.Keys(live)) {
		h, err := registry.ContentHash(live[name])
		if err != nil {
			h = "(unhashable)"
		} else if bad, _ := registry.AdvertisedMismatch(live[name]); bad {
			h += " (" + registry.DriftContentHashMismatch + ": the tool advertises another contentHash)"
		}
		fmt.Fprintf(w, "%s/%s content_hash %s\n", server, name, h)
	}
}

func printChanges(w io.Writer, changes []registry.Change) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "no changes")
		return
	}
	for _, c := range changes {
		fmt.Fprintln(w, c.String())
	}
}
