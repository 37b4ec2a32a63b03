package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mcp-authz/mcp-authz/internal/devjwt"
)

// Dev defaults match examples/dev/config.yaml.
const (
	devIssuer   = "https://dev.mcp-authz.test"
	devAudience = "https://mcp.example.test/mcp"
	devKeyFile  = "examples/dev/dev-key.pem"
	devKeyID    = "dev-key-1"
)

func dev(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	switch args[0] {
	case "token":
		return devToken(args[1:], stdout, stderr)
	case "request":
		return devRequest(args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return exitCode(2)
}

// devToken mints an RS256 access token with the TEST-ONLY dev key. It uses
// only the standard library so that jwx stays behind pkg/identity.
func devToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "alice", "subject")
	roles := fs.String("roles", "admin", "comma-separated roles")
	scope := fs.String("scope", "mcp:tools mcp:resources mcp:prompts", "space-separated scopes")
	aud := fs.String("aud", devAudience, "audience (the hop's resource)")
	iss := fs.String("iss", devIssuer, "issuer")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	keyFile := fs.String("key", devKeyFile, "PEM RSA private key (test-only)")
	kid := fs.String("kid", devKeyID, "key id")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	key, err := devjwt.ReadRSAKey(*keyFile)
	if err != nil {
		return err
	}
	now := time.Now()
	claims := map[string]any{
		"iss": *iss, "sub": *sub, "aud": *aud, "scope": *scope,
		"roles": splitList(*roles), "iat": now.Unix(), "exp": now.Add(*ttl).Unix(),
	}
	tok, err := devjwt.SignRS256(key, *kid, claims)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
