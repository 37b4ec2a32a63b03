package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// deploysResource is the hop of examples/policies' deploys server.
const deploysResource = "https://deploys.example.test/mcp"

// signedUserBundle builds examples/policies signed with a fresh key and
// returns the bundle file and the public key file.
func signedUserBundle(t *testing.T) (bundleFile, pubFile string) {
	t.Helper()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	privFile, pubFile := filepath.Join(dir, "signing.pem"), filepath.Join(dir, "signing.pub.pem")
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	tgz, err := policy.BuildBundle("../../examples/policies", "deploys-e2e", &policy.SigningConfig{KeyFile: privFile})
	if err != nil {
		t.Fatalf("build the example bundle: %v", err)
	}
	bundleFile = filepath.Join(dir, "deploys.tar.gz")
	if err := os.WriteFile(bundleFile, tgz, 0o600); err != nil {
		t.Fatal(err)
	}
	return bundleFile, pubFile
}

// TestRealClientUserBundle serves examples/policies (a team's own signed
// bundle: custom role, custom tool, argument rule) with mcp-authz and runs
// the Go SDK client through the gate against a go-sdk server of that tool.
func TestRealClientUserBundle(t *testing.T) {
	bundleFile, pubFile := signedUserBundle(t)
	cfg := `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: ` + deploysResource + `
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
bundle:
  path: ` + bundleFile + `
  verification_key_file: ` + pubFile + `
policy:
  deadline: 5s
`
	log := &checkLog{}
	s := mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:   cfg,
		Upstream: mcpharness.UpstreamOptions{RegistryFile: "../../examples/policies/mcp/servers/deploys/data.json"},
		Gate:     func(c *envoyshim.Config) { c.Observe = log.observe },
	})
	m := mcpharness.NewMinter(t, "testdata/keys/private.pem", e2eKeyID, e2eIssuer, deploysResource)
	ctx := testCtx(t)
	staging := map[string]any{"service": "api", "environment": "staging", "version": "v1.2.3"}
	production := map[string]any{"service": "api", "environment": "production", "version": "v1.2.3"}
	cases := []struct {
		role  string
		tool  string
		args  map[string]any
		allow bool
	}{
		{"deployer", "rollback", staging, true},
		{"deployer", "rollback", production, false},
		{"sre", "rollback", production, true},
		{"viewer", "list_deploys", map[string]any{"service": "api"}, true},
		{"viewer", "rollback", staging, false},
	}
	for _, tc := range cases {
		auth := mcpharness.Auth{Token: m.Mint(t, "sam", []string{tc.role}, nil), Host: "deploys.example.test", PublicURL: deploysResource}
		cs, err := mcpharness.Connect(ctx, t, s.Endpoint, auth, mcpharness.ClientOptions{DisableStandaloneSSE: true})
		if err != nil {
			t.Fatalf("%s connects: %v", tc.role, err)
		}
		_, err = callText(ctx, cs, tc.tool, tc.args)
		if tc.allow && err != nil {
			t.Errorf("%s %s %v: %v; want allowed", tc.role, tc.tool, tc.args, err)
		}
		if !tc.allow {
			wantPolicyDeny(t, tc.role+" "+tc.tool, err)
		}
	}
	for _, e := range []string{"POST deny production_requires_sre", "POST deny tool_not_allowed"} {
		if !log.has(e) {
			t.Errorf("no %q check recorded; checks: %v", e, log.entries)
		}
	}
}
