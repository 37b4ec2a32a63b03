package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
)

const testdataPolicies = "testdata/policies"

// tarNames lists the files of a bundle tarball and checks their headers.
func tarNames(t *testing.T, tgz []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.IsZero() && h.ModTime.Unix() != 0 {
			t.Errorf("%s: mtime %v; want a fixed zero mtime", h.Name, h.ModTime)
		}
		names = append(names, h.Name)
	}
}

func TestBuildBundle(t *testing.T) {
	first, err := BuildBundle(testdataPolicies, "rev-1", nil)
	if err != nil {
		t.Fatalf("BuildBundle() = %v", err)
	}
	again, err := BuildBundle(testdataPolicies, "rev-1", nil)
	if err != nil {
		t.Fatalf("BuildBundle() again = %v", err)
	}
	if !bytes.Equal(first, again) {
		t.Error("BuildBundle() twice gave different bytes; want deterministic output")
	}
	want := []string{"/data.json", "/authz.rego", "/.manifest"}
	if got := tarNames(t, first); !slices.Equal(got, want) {
		t.Errorf("BuildBundle() files = %v; want %v (no tests)", got, want)
	}
	b, err := LoadBundleBytes(first)
	if err != nil {
		t.Fatalf("LoadBundleBytes() = %v", err)
	}
	if b.Manifest.Revision != "rev-1" || b.Manifest.Roots == nil || !slices.Equal(*b.Manifest.Roots, []string{"mcp"}) {
		t.Errorf("manifest = %+v; want revision rev-1, roots [mcp]", b.Manifest)
	}
	if _, ok := b.Data["mcp"].(map[string]any)["servers"]; !ok {
		t.Error("bundle data lacks mcp.servers from mcp/servers/issues/data.json")
	}
}

func TestBuildBundleRefusesOutsideRoot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.rego"), []byte("package other\n\nx := 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildBundle(dir, "r", nil); err == nil {
		t.Error("BuildBundle(package other) = nil error; want a roots error")
	}
	if _, err := BuildBundle(filepath.Join(dir, "x.rego"), "r", nil); err == nil {
		t.Error("BuildBundle(a file) = nil error; want an error")
	}
}

func TestDigestDir(t *testing.T) {
	d1, err := DigestDir(testdataPolicies)
	if err != nil || len(d1) != 64 {
		t.Fatalf("DigestDir() = %q, %v; want 64 hex", d1, err)
	}
	dir := t.TempDir()
	copyDir(t, testdataPolicies, dir)
	if d2, _ := DigestDir(dir); d2 != d1 {
		t.Errorf("DigestDir(copy) = %s; want %s (content, not location)", d2, d1)
	}
	if err := os.WriteFile(filepath.Join(dir, "authz_test.rego"), []byte("package mcp.authz_test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d3, _ := DigestDir(dir); d3 != d1 {
		t.Errorf("DigestDir() changed with a test file: %s; want %s", d3, d1)
	}
	if err := os.WriteFile(filepath.Join(dir, "extra.rego"), []byte("package mcp.extra\n\nx := 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d4, _ := DigestDir(dir); d4 == d1 {
		t.Error("DigestDir() unchanged after adding a module")
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		bs, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), bs, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeKeys writes a PEM private key and its public key to temp files.
func writeKeys(t *testing.T, priv crypto.Signer) (privFile, pubFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	privFile, pubFile = filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	return privFile, pubFile
}

func TestSignedBundle(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, rsaPub := writeKeys(t, rsaKey)
	ecPriv, ecPub := writeKeys(t, ecKey)
	signed, err := BuildBundle(testdataPolicies, "signed-1", &SigningConfig{KeyFile: rsaPriv, KeyID: "ops"})
	if err != nil {
		t.Fatalf("BuildBundle(signed) = %v", err)
	}
	ecSigned, err := BuildBundle(testdataPolicies, "signed-2", &SigningConfig{KeyFile: ecPriv, Algorithm: "ES256", KeyID: "ops"})
	if err != nil {
		t.Fatalf("BuildBundle(ES256) = %v", err)
	}
	unsigned, err := BuildBundle(testdataPolicies, "unsigned", nil)
	if err != nil {
		t.Fatal(err)
	}
	tampered := tamper(t, signed)
	tests := []struct {
		name   string
		tgz    []byte
		verify VerificationConfig
		ok     bool
	}{
		{"RS256 good key", signed, VerificationConfig{PublicKeyFile: rsaPub, KeyID: "ops"}, true},
		{"ES256 good key", ecSigned, VerificationConfig{PublicKeyFile: ecPub, Algorithm: "ES256", KeyID: "ops"}, true},
		{"wrong key", signed, VerificationConfig{PublicKeyFile: ecPub, Algorithm: "ES256", KeyID: "ops"}, false},
		{"wrong key id", signed, VerificationConfig{PublicKeyFile: rsaPub, KeyID: "other"}, false},
		{"unsigned", unsigned, VerificationConfig{PublicKeyFile: rsaPub, KeyID: "ops"}, false},
		{"tampered", tampered, VerificationConfig{PublicKeyFile: rsaPub, KeyID: "ops"}, false},
		{"missing key file", signed, VerificationConfig{PublicKeyFile: filepath.Join(t.TempDir(), "none"), KeyID: "ops"}, false},
		// The verification key passes the same rules as every key set:
		// never a private key, never a shared secret.
		{"private key as verification key", signed, VerificationConfig{PublicKeyFile: rsaPriv, KeyID: "ops"}, false},
		{"hmac secret as verification key", signed, VerificationConfig{PublicKeyFile: writeSecret(t), Algorithm: "HS256", KeyID: "ops"}, false},
	}
	refusedBy := map[string]error{
		"private key as verification key": keyset.ErrPrivateMaterial,
		"hmac secret as verification key": keyset.ErrNotPublicKey,
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle.tar.gz")
			if err := os.WriteFile(path, tc.tgz, 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := LoadBundleFile(path, WithVerification(tc.verify))
			if (err == nil) != tc.ok {
				t.Fatalf("LoadBundleFile(verify) = %v; want ok %v", err, tc.ok)
			}
			if want := refusedBy[tc.name]; want != nil && !errors.Is(err, want) {
				t.Errorf("LoadBundleFile(verify) = %v; want %v", err, want)
			}
			if tc.ok {
				newEngine(t, Options{}, b) // a verified bundle activates
			}
		})
	}
}

// writeSecret writes an HMAC secret file.
func writeSecret(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hmac.key")
	if err := os.WriteFile(p, []byte("a-shared-secret-of-enough-length"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tamper rewrites the policy inside a signed tarball, keeping its signature.
func tamper(t *testing.T, tgz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		body, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, "authz.rego") {
			body = bytes.Replace(body, []byte(`"unknown_method"`), []byte(`"allowed_evil"`), 1)
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestLoadBundleErrors(t *testing.T) {
	if _, err := LoadBundleFile(filepath.Join(t.TempDir(), "missing.tar.gz")); err == nil {
		t.Error("LoadBundleFile(missing) = nil error")
	}
	if _, err := LoadBundleBytes([]byte("not a tarball")); err == nil {
		t.Error("LoadBundleBytes(garbage) = nil error")
	}
	tgz, err := BuildBundle(testdataPolicies, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBundleBytes(tgz, WithMaxBytes(16)); err == nil {
		t.Error("LoadBundleBytes(limit 16 bytes) = nil error; want a size error")
	}
	if _, err := LoadBundleDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadBundleDir(missing) = nil error")
	}
}

func TestLoadBundleDirActivates(t *testing.T) {
	b, err := LoadBundleDir(testdataPolicies)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := DigestDir(testdataPolicies)
	if want := "dir-" + d[:12]; b.Manifest.Revision != want {
		t.Errorf("LoadBundleDir().Manifest.Revision = %q; want %q", b.Manifest.Revision, want)
	}
	for _, m := range b.Modules {
		if strings.HasSuffix(m.Path, "_test.rego") {
			t.Errorf("LoadBundleDir() kept test module %s", m.Path)
		}
	}
	e := New(Options{})
	if err := e.Activate(context.Background(), b); err != nil {
		t.Fatalf("Activate(LoadBundleDir) = %v", err)
	}
	if e.Revision() != b.Manifest.Revision || !e.Ready() {
		t.Errorf("Revision() = %q, Ready() = %v; want %q, true", e.Revision(), e.Ready(), b.Manifest.Revision)
	}
}
