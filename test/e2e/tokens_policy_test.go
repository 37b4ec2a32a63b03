package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// shapingPolicy allows everything and shapes the upstream token of a
// tools/call: its own audience, scope, lifetime and a tenant claim.
const shapingPolicy = `package mcp.authz

default decision := {"allow": true, "reason": "allowed"}

decision := {"allow": true, "reason": "allowed", "upstream_token": {
	"audience": "https://internal.example.test/issues", "scope": "issues:read", "ttl": 20,
	"claims": {"tenant": "acme"},
}} if input.mcp.method == "tools/call"
`

// TestMintedTokenPolicyShapesToken: the decision's upstream_token sets the
// minted token's aud, scope, lifetime and extra claims; on a hop in mode
// none it asks for a minted token for that request only.
func TestMintedTokenPolicyShapesToken(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"policy.rego": shapingPolicy, "data.json": emptyData} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := writeSigningKey(t, t.TempDir(), "signing.pem", "ES256")
	yaml := strings.Replace(fmt.Sprintf(mintConfig, key, "ES256"), "mode: mint", "mode: none", 1) + "bundle:\n  path: " + dir + "\n"
	a, client := startAppYAML(t, yaml)
	set := fetchJWKS(t, a.Addr("public"))

	call := mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: searchCallBody}.request())
	tok := bearerSet(call.GetOkResponse())
	m, err := verifyMinted(t, set, tok, "https://internal.example.test/issues", time.Now())
	if err != nil {
		t.Fatalf("policy-shaped token: %v", err)
	}
	if m.claims["scope"] != "issues:read" || m.claims["tenant"] != "acme" || m.exp.Sub(m.iat) != 20*time.Second {
		t.Errorf("claims scope %v tenant %v lifetime %s; want issues:read, acme, 20s", m.claims["scope"], m.claims["tenant"], m.exp.Sub(m.iat))
	}
	list := mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: toolsListBody}.request())
	wantAllow(t, "tools/list on a passthrough hop", list)
	if got := bearerSet(list.GetOkResponse()); got != "" {
		t.Errorf("passthrough hop without upstream_token set authorization %.20q…; want the caller's token untouched", got)
	}
}

// TestMintedTokenPassthroughWarns: without minting the caller's token
// passes through (nothing set or removed), and the service says at start,
// per hop, that this is token passthrough.
func TestMintedTokenPassthroughWarns(t *testing.T) {
	cfg, err := config.Parse([]byte(hopsConfig))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := app.New(t.Context(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Shutdown()
	for _, res := range []string{e2eResource, hopB} {
		if !strings.Contains(logs.String(), `"resource":"`+res+`"`) || !strings.Contains(logs.String(), "token passthrough") {
			t.Errorf("start logs do not warn of token passthrough at %s:\n%s", res, logs.String())
		}
	}
	_, client := startAppYAML(t, e2eConfig)
	resp := mustCheck(t, client, withCallerCredentials(mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: toolsListBody}.request()))
	wantAllow(t, "passthrough", resp)
	if ok := resp.GetOkResponse(); bearerSet(ok) != "" || len(ok.GetHeadersToRemove()) != 0 {
		t.Errorf("passthrough response sets %v, removes %v; want neither", ok.GetHeaders(), ok.GetHeadersToRemove())
	}
}

// TestMintedTokenServerMetadata: the RFC 8414 document on the public
// listener names the issuer and the JWKS an upstream verifies with.
func TestMintedTokenServerMetadata(t *testing.T) {
	a, _ := startMinting(t, "ES256")
	resp, err := http.Get("http://" + a.Addr("public") + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(b, &meta); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metadata = %d %s (%v)", resp.StatusCode, b, err)
	}
	if meta.Issuer != mintIssuer || meta.JWKSURI != mintIssuer+"/.well-known/jwks.json" {
		t.Errorf("metadata issuer %q jwks_uri %q; want %q and its /.well-known/jwks.json", meta.Issuer, meta.JWKSURI, mintIssuer)
	}
	// The RFC 9728 document is still served beside it.
	if r, err := http.Get("http://" + a.Addr("public") + "/.well-known/oauth-protected-resource/mcp"); err != nil || r.StatusCode != 200 {
		t.Errorf("protected resource metadata beside the JWKS = %v, %v; want 200", r, err)
	} else {
		r.Body.Close()
	}
}
