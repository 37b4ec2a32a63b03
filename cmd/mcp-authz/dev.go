package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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
	key, err := readRSAKey(*keyFile)
	if err != nil {
		return err
	}
	now := time.Now()
	claims := map[string]any{
		"iss": *iss, "sub": *sub, "aud": *aud, "scope": *scope,
		"roles": splitList(*roles), "iat": now.Unix(), "exp": now.Add(*ttl).Unix(),
	}
	tok, err := signRS256(key, *kid, claims)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func signRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + enc.EncodeToString(sig), nil
}

func readRSAKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New(path + ": not an RSA key")
	}
	return rk, nil
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
