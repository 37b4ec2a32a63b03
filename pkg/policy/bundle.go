package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
)

// DefaultMaxBundleBytes bounds any one file read from a bundle (gzip bombs).
const DefaultMaxBundleBytes = 64 << 20

// BundleRoot is the only root an mcp-authz bundle owns: data.mcp.
const BundleRoot = "mcp"

// SigningConfig signs a bundle built by BuildBundle (OPA bundle signing:
// a JWT in /.signatures.json over the hashes of every file).
type SigningConfig struct {
	// KeyFile is a PEM private key (RSA or EC) file, or an HMAC secret file.
	KeyFile string
	// Algorithm is the JWS algorithm (default: inferred from the key,
	// RS256 for RSA, ES256/384/512 by curve for EC).
	Algorithm string
	// KeyID is put in the token's kid; verifiers look the key up by it.
	KeyID string
	// Scope, when set, is the signature's scope claim; a verifier
	// configured with a scope accepts only a signature of that scope.
	Scope string
}

// VerificationConfig verifies a signed bundle in LoadBundleFile/Bytes: one
// key (PublicKeyFile) or a key map (Keys, OPA's `keys`), not both. Every
// key passes keyset.PublicPEM: a private key, an HMAC secret (anyone who
// reads it can sign), a weak RSA key or a key that does not fit its
// algorithm is refused.
type VerificationConfig struct {
	// PublicKeyFile is the PEM public key file.
	PublicKeyFile string
	// Algorithm is PublicKeyFile's JWS algorithm (default: inferred from
	// the key).
	Algorithm string
	// Keys are the verification keys by key id.
	Keys map[string]VerificationKey
	// KeyID names the key that must have signed, and the signature's kid
	// must name it too. With PublicKeyFile it is that key's name (default
	// "default", as SigningConfig's); with Keys it must be one of them and
	// no other key verifies. Empty with Keys: the signature's kid picks
	// the key, an unknown kid is refused.
	KeyID string
	// Scope must equal the scope claim of the signature; empty, the
	// signature must carry no scope (OPA's rule).
	Scope string
}

// VerificationKey is one entry of VerificationConfig.Keys.
type VerificationKey struct {
	// KeyFile is the PEM public key file.
	KeyFile string
	// Algorithm is the JWS algorithm (default: inferred from the key).
	Algorithm string
}

// defaults
const (
	defaultSigningAlgorithm = "RS256"
	defaultKeyID            = "default"
)

// LoadOption configures LoadBundleFile and LoadBundleBytes.
type LoadOption func(*loadConfig)

type loadConfig struct {
	verify   *VerificationConfig
	maxBytes int64
}

// WithVerification requires the bundle to be signed by the configured key.
func WithVerification(v VerificationConfig) LoadOption {
	return func(c *loadConfig) { c.verify = &v }
}

// WithMaxBytes bounds any one file read from the bundle (default
// DefaultMaxBundleBytes).
func WithMaxBytes(n int64) LoadOption {
	return func(c *loadConfig) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// LoadBundleFile reads a bundle tarball (.tar.gz) from path.
func LoadBundleFile(path string, opts ...LoadOption) (*bundle.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: load bundle: %w", err)
	}
	defer f.Close()
	b, err := readTarball(f, opts)
	if err != nil {
		return nil, fmt.Errorf("policy: load bundle %s: %w", path, err)
	}
	return b, nil
}

// LoadBundleBytes reads a bundle tarball (.tar.gz) held in memory.
func LoadBundleBytes(data []byte, opts ...LoadOption) (*bundle.Bundle, error) {
	b, err := readTarball(bytes.NewReader(data), opts)
	if err != nil {
		return nil, fmt.Errorf("policy: load bundle: %w", err)
	}
	return b, nil
}

// LoadBundleDir reads a policy directory (the policies/ layout: *.rego and
// data.json files; *_test.rego are left out) exactly as BuildBundle would
// package it, with the revision "dir-" + the first 12 hex of DigestDir.
func LoadBundleDir(dir string) (*bundle.Bundle, error) {
	digest, err := DigestDir(dir)
	if err != nil {
		return nil, err
	}
	tgz, err := BuildBundle(dir, "dir-"+digest[:12], nil)
	if err != nil {
		return nil, err
	}
	return LoadBundleBytes(tgz)
}

// readTarball reads one bundle with the options applied.
func readTarball(r io.Reader, opts []LoadOption) (*bundle.Bundle, error) {
	cfg := loadConfig{maxBytes: DefaultMaxBundleBytes}
	for _, o := range opts {
		o(&cfg)
	}
	loader := bundle.NewTarballLoader(r).WithSizeLimitBytes(cfg.maxBytes)
	reader := bundle.NewCustomReader(loader).WithSizeLimitBytes(cfg.maxBytes)
	if cfg.verify == nil {
		reader = reader.WithSkipBundleVerification(true)
	} else {
		vc, err := cfg.verify.bundleConfig()
		if err != nil {
			return nil, err
		}
		reader = reader.WithBundleVerificationConfig(vc)
	}
	b, err := reader.Read()
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// bundleConfig turns v into OPA's verification config: every key read
// and checked now, so a bad key is refused at start, naming the key.
func (v *VerificationConfig) bundleConfig() (*bundle.VerificationConfig, error) {
	keys, err := v.keyFiles()
	if err != nil {
		return nil, err
	}
	out := make(map[string]*bundle.KeyConfig, len(keys))
	for id, k := range keys {
		kc, err := loadVerificationKey(id, k)
		if err != nil {
			return nil, err
		}
		out[id] = kc
	}
	// No key id handed to OPA: the signature's kid must name a key we
	// hold (with KeyID set, only that one).
	return bundle.NewVerificationConfig(out, "", v.Scope, nil), nil
}

// keyFiles returns the keys v allows, by id.
func (v *VerificationConfig) keyFiles() (map[string]VerificationKey, error) {
	switch {
	case v.PublicKeyFile != "" && len(v.Keys) > 0:
		return nil, errors.New("verification: a public key file or a key map, not both")
	case v.PublicKeyFile != "":
		return map[string]VerificationKey{cmpOr(v.KeyID, defaultKeyID): {KeyFile: v.PublicKeyFile, Algorithm: v.Algorithm}}, nil
	case len(v.Keys) == 0:
		return nil, errors.New("verification: no key")
	case v.KeyID == "":
		return v.Keys, nil
	}
	k, ok := v.Keys[v.KeyID]
	if !ok {
		return nil, fmt.Errorf("verification: key id %q is not in the key map", v.KeyID)
	}
	return map[string]VerificationKey{v.KeyID: k}, nil
}

// loadVerificationKey reads and checks the public key id.
func loadVerificationKey(id string, k VerificationKey) (*bundle.KeyConfig, error) {
	pemBytes, err := os.ReadFile(k.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("verification key %q: %w", id, err)
	}
	alg := k.Algorithm
	if alg == "" {
		alg = inferPublicAlg(pemBytes)
	}
	if _, err := keyset.PublicPEM(pemBytes, alg); err != nil {
		return nil, fmt.Errorf("verification key %q (%s): %w", id, k.KeyFile, err)
	}
	if err := checkBundleAlg(alg); err != nil {
		return nil, fmt.Errorf("verification key %q (%s): %w", id, k.KeyFile, err)
	}
	return &bundle.KeyConfig{Key: string(pemBytes), Algorithm: alg}, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// BuildBundle packages dir (the policies/ layout) as a bundle tarball with a
// .manifest of the given revision and roots ["mcp"], signed when signing is
// not nil. Test files (*_test.rego) are left out. The output is
// deterministic: files in lexical order, zero mtimes, data as one sorted
// data.json, so the same sources always give the same bytes (unsigned).
func BuildBundle(dir string, revision string, signing *SigningConfig) ([]byte, error) {
	b, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	roots := []string{BundleRoot}
	b.Manifest.Revision = revision
	b.Manifest.Roots = &roots
	if signing != nil {
		if err := sign(b, signing); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).UseModulePath(true).DisableFormat(true).Write(*b); err != nil {
		return nil, fmt.Errorf("policy: write bundle: %w", err)
	}
	// Read it back: this checks roots cover every module and datum.
	if _, err := readTarball(bytes.NewReader(buf.Bytes()), nil); err != nil {
		return nil, fmt.Errorf("policy: built bundle does not load: %w", err)
	}
	return buf.Bytes(), nil
}

// readDir loads the bundle files of dir, test files excluded, with paths
// relative to dir.
func readDir(dir string) (*bundle.Bundle, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("policy: read %s: not a directory", dir)
	}
	loader := bundle.NewDirectoryLoader(dir).
		WithFilter(skipNonBundleFiles).
		WithSizeLimitBytes(DefaultMaxBundleBytes)
	b, err := bundle.NewCustomReader(loader).
		WithSizeLimitBytes(DefaultMaxBundleBytes).
		WithSkipBundleVerification(true).
		Read()
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", dir, err)
	}
	return &b, nil
}

// skipNonBundleFiles keeps *.rego (but not *_test.rego) and data.json files
// and every directory; a source tree's own .manifest and signatures are
// ignored, since BuildBundle writes its own.
func skipNonBundleFiles(_ string, info os.FileInfo, _ int) bool {
	if info.IsDir() {
		return false
	}
	name := info.Name()
	if strings.HasSuffix(name, "_test.rego") {
		return true
	}
	return !strings.HasSuffix(name, ".rego") && name != "data.json"
}

// DigestDir returns the lower-case hex SHA-256 over the bundle content of
// dir: every module (path and source) in path order, then the merged data
// document as sorted JSON. It names a revision after its content.
func DigestDir(dir string) (string, error) {
	b, err := readDir(dir)
	if err != nil {
		return "", err
	}
	return digest(b)
}

func digest(b *bundle.Bundle) (string, error) {
	mods := append([]bundle.ModuleFile(nil), b.Modules...)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	h := sha256.New()
	for _, m := range mods {
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(m.Path), len(m.Raw))
		h.Write(m.Raw)
	}
	data, err := json.Marshal(b.Data)
	if err != nil {
		return "", fmt.Errorf("policy: digest data: %w", err)
	}
	fmt.Fprintf(h, "data.json\x00%d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// OPAConfig returns v as OPA's bundle verification config, for readers
// outside this package (the bundle server source's downloader).
func (v VerificationConfig) OPAConfig() (*bundle.VerificationConfig, error) {
	return v.bundleConfig()
}
