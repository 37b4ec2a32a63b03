package bundles

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"regexp"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

const policiesDir = "../policies"

// untar returns the uncompressed tar stream: the bundle's content, not
// subject to the gzip encoder of a given Go release.
func untar(t *testing.T, tgz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return raw
}

func TestDefaultIsFresh(t *testing.T) {
	fresh, err := Build(policiesDir)
	if err != nil {
		t.Fatalf("Build(%s) = %v", policiesDir, err)
	}
	if !bytes.Equal(untar(t, fresh), untar(t, DefaultBytes())) {
		t.Fatal("bundles/default.tar.gz is stale: policies/ changed since it was built; run make bundle")
	}
}

func TestDefaultActivates(t *testing.T) {
	b, err := Default()
	if err != nil {
		t.Fatalf("Default() = %v", err)
	}
	if !regexp.MustCompile(`^default-[0-9a-f]{12}$`).MatchString(b.Manifest.Revision) {
		t.Errorf("Default() revision = %q; want default-<12 hex>", b.Manifest.Revision)
	}
	digest, err := policy.DigestDir(policiesDir)
	if err != nil {
		t.Fatal(err)
	}
	if want := Revision(digest); b.Manifest.Revision != want {
		t.Errorf("Default() revision = %q; want %q (the digest of policies/)", b.Manifest.Revision, want)
	}
	for _, m := range b.Modules {
		if bytes.Contains([]byte(m.Path), []byte("_test.rego")) {
			t.Errorf("Default() contains test module %s", m.Path)
		}
	}
	e := policy.New(policy.Options{})
	if err := e.Activate(context.Background(), b); err != nil {
		t.Fatalf("Activate(Default()) = %v", err)
	}
	if e.Revision() != b.Manifest.Revision {
		t.Errorf("Revision() = %q; want %q", e.Revision(), b.Manifest.Revision)
	}
}

func TestRevision(t *testing.T) {
	tests := []struct{ digest, want string }{
		{"0123456789abcdef0123", "default-0123456789ab"},
		{"abc", "default-abc"},
	}
	for _, tc := range tests {
		if got := Revision(tc.digest); got != tc.want {
			t.Errorf("Revision(%q) = %q; want %q", tc.digest, got, tc.want)
		}
	}
}
