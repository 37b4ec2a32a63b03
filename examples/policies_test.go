package examples_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// userBundle is the example of a team's own bundle.
const userBundle = "policies"

// workflowPath is the policy-authoring GitHub Actions workflow.
const workflowPath = "../.github/workflows/policy.yml"

// TestUserBundleRegoTests runs examples/policies' Rego tests through OPA's
// tester, compiled as mcp-authz compiles a bundle (input schema checked).
func TestUserBundleRegoTests(t *testing.T) {
	results, err := policy.RunRegoTests(context.Background(), userBundle)
	if err != nil {
		t.Fatalf("RunRegoTests(%s): %v", userBundle, err)
	}
	if len(results) < 10 {
		t.Fatalf("RunRegoTests(%s) ran %d tests; want the bundle's ≥ 10", userBundle, len(results))
	}
	for _, r := range results {
		if r.Fail || r.Error != nil {
			t.Errorf("%s.%s: fail=%v error=%v", r.Package, r.Name, r.Fail, r.Error)
		}
	}
}

// writeKeyPair writes a fresh RSA key pair as PEM files in dir.
func writeKeyPair(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub.pem")
	for path, block := range map[string]*pem.Block{priv: {Type: "PRIVATE KEY", Bytes: der}, pub: {Type: "PUBLIC KEY", Bytes: pubDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return priv, pub
}

// TestUserBundleSignedBuild builds the example bundle signed, as the
// workflow's `mcp-authz bundle build -signing-key` does, and checks that it
// verifies with the matching key only and activates in the policy engine
// (data schema, registry hashes, input types).
func TestUserBundleSignedBuild(t *testing.T) {
	dir := t.TempDir()
	priv, pub := writeKeyPair(t, dir, "deploys")
	_, otherPub := writeKeyPair(t, dir, "other")
	tgz, err := policy.BuildBundle(userBundle, "deploys-test", &policy.SigningConfig{KeyFile: priv})
	if err != nil {
		t.Fatalf("BuildBundle(signed): %v", err)
	}
	b, err := policy.LoadBundleBytes(tgz, policy.WithVerification(policy.VerificationConfig{PublicKeyFile: pub}))
	if err != nil {
		t.Fatalf("load with the signing key's public half: %v", err)
	}
	if err := policy.New(policy.Options{}).Activate(context.Background(), b); err != nil {
		t.Fatalf("Activate(example bundle): %v", err)
	}
	if _, err := policy.LoadBundleBytes(tgz, policy.WithVerification(policy.VerificationConfig{PublicKeyFile: otherPub})); err == nil {
		t.Error("the bundle verified with another key; want a signature error")
	}
	unsigned, err := policy.BuildBundle(userBundle, "deploys-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.LoadBundleBytes(unsigned, policy.WithVerification(policy.VerificationConfig{PublicKeyFile: pub})); err == nil {
		t.Error("an unsigned bundle verified; want it refused")
	}
}

// lintWorkflow runs actionlint (as a library, no shellcheck) on src and
// returns its errors.
func lintWorkflow(t *testing.T, src []byte) []*actionlint.Error {
	t.Helper()
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint("policy.yml", src, nil)
	if err != nil {
		t.Fatalf("actionlint: %v", err)
	}
	return errs
}

// TestPolicyWorkflow validates .github/workflows/policy.yml with actionlint
// and checks it runs what policy authors need: opa test / check --strict /
// fmt --fail through setup-opa at the OPA version go.mod pins, the same
// through `go tool opa`, and a signed `mcp-authz bundle build`.
func TestPolicyWorkflow(t *testing.T) {
	src, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lintWorkflow(t, src) {
		t.Errorf("actionlint: %s:%d:%d: %s [%s]", workflowPath, e.Line, e.Column, e.Message, e.Kind)
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	opaVersion := regexp.MustCompile(`github.com/open-policy-agent/opa v(\S+)`).FindSubmatch(gomod)
	if opaVersion == nil {
		t.Fatal("go.mod does not require github.com/open-policy-agent/opa")
	}
	for _, want := range []string{
		"uses: open-policy-agent/setup-opa@", "version: " + string(opaVersion[1]),
		`opa test "${{ matrix.dir }}"`, `opa check --strict "${{ matrix.dir }}"`, `opa fmt --fail -l "${{ matrix.dir }}"`,
		"dir: [policies, examples/policies]", `go tool opa test "$dir"`, `go tool opa check --strict "$dir"`,
		`go tool opa fmt --fail -l "$dir"`, "go run ./cmd/mcp-authz bundle build -dir examples/policies", `-signing-key "$key"`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("%s lacks %q", workflowPath, want)
		}
	}
}

// TestPolicyWorkflowLintCatchesMistakes is the control: actionlint must
// report a broken workflow.
func TestPolicyWorkflowLintCatchesMistakes(t *testing.T) {
	src, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][2]string{
		"undefined matrix key": {"${{ matrix.dir }}", "${{ matrix.dirs }}"},
		"unknown job key":      {"    needs: opa", "    needz: opa"},
		"bad runner label":     {"runs-on: ubuntu-latest", "runs-on: ubuntu-lastest"},
	}
	for name, m := range cases {
		mutated := strings.Replace(string(src), m[0], m[1], 1)
		if mutated == string(src) {
			t.Fatalf("%s: mutation did not apply; update the test", name)
		}
		if len(lintWorkflow(t, []byte(mutated))) == 0 {
			t.Errorf("%s: actionlint reported nothing; want an error", name)
		}
	}
}
