package upstream

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
)

// maxKeyFileBytes bounds one key file.
const maxKeyFileBytes = 64 << 10

// KeySet is one immutable generation of signing keys: the first signs,
// every key is published.
type KeySet struct {
	alg     jwa.SignatureAlgorithm
	signer  jwk.Key // private, with kid and alg
	kid     string
	jwks    []byte // the public JWK Set, precomputed
	kids    []string
	sources [][]byte // the files' bytes, to tell whether a reload changed anything
}

// Kid returns the key id (RFC 7638 thumbprint) of the signing key.
func (s *KeySet) Kid() string { return s.kid }

// Kids returns the key ids of every published key, signing key first.
func (s *KeySet) Kids() []string { return append([]string(nil), s.kids...) }

// JWKS returns the public JWK Set document.
func (s *KeySet) JWKS() []byte { return s.jwks }

// LoadKeySet reads PEM private keys from files for alg ("ES256": P-256
// keys, "EdDSA": Ed25519 keys). Every key must suit alg and the kids must
// be distinct: a wrong key would mint tokens nobody can verify.
func LoadKeySet(files []string, alg string) (*KeySet, error) {
	a, err := algorithm(alg)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("upstream: no signing key files")
	}
	s := &KeySet{alg: a}
	var pubs []jwk.Key
	for _, f := range files {
		priv, pub, src, err := loadKey(f, a)
		if err != nil {
			return nil, err
		}
		if s.signer == nil {
			s.signer, s.kid = priv, priv.KeyID()
		}
		for _, k := range s.kids {
			if k == pub.KeyID() {
				return nil, fmt.Errorf("upstream: %s: the same key is listed twice", f)
			}
		}
		s.kids = append(s.kids, pub.KeyID())
		s.sources = append(s.sources, src)
		pubs = append(pubs, pub)
	}
	if s.jwks, err = publicSet(pubs); err != nil {
		return nil, err
	}
	return s, nil
}

func algorithm(alg string) (jwa.SignatureAlgorithm, error) {
	switch alg {
	case "ES256":
		return jwa.ES256, nil
	case "EdDSA":
		return jwa.EdDSA, nil
	}
	return "", fmt.Errorf("upstream: algorithm %q: want ES256 or EdDSA", alg)
}

// loadKey reads one private key and returns it and its public half as JWKs
// with kid = RFC 7638 SHA-256 thumbprint, alg and use=sig.
func loadKey(path string, alg jwa.SignatureAlgorithm) (priv, pub jwk.Key, src []byte, err error) {
	src, err = readBounded(path)
	if err != nil {
		return nil, nil, nil, err
	}
	raw, err := parsePrivate(src, alg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("upstream: %s: %w", path, err)
	}
	if priv, err = jwk.FromRaw(raw); err != nil {
		return nil, nil, nil, fmt.Errorf("upstream: %s: %w", path, err)
	}
	if err := jwk.AssignKeyID(priv); err != nil {
		return nil, nil, nil, fmt.Errorf("upstream: %s: thumbprint: %w", path, err)
	}
	if pub, err = priv.PublicKey(); err != nil {
		return nil, nil, nil, fmt.Errorf("upstream: %s: %w", path, err)
	}
	for _, k := range []jwk.Key{priv, pub} {
		if err := errors.Join(k.Set(jwk.AlgorithmKey, alg), k.Set(jwk.KeyUsageKey, "sig")); err != nil {
			return nil, nil, nil, fmt.Errorf("upstream: %s: %w", path, err)
		}
	}
	return priv, pub, src, nil
}

func readBounded(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("upstream: signing key: %w", err)
	}
	if fi.Size() > maxKeyFileBytes {
		return nil, fmt.Errorf("upstream: signing key %s is larger than %d bytes", path, maxKeyFileBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("upstream: signing key: %w", err)
	}
	return b, nil
}

// parsePrivate decodes one private key (PEM, or a private JWK) and checks
// it suits alg.
func parsePrivate(b []byte, alg jwa.SignatureAlgorithm) (any, error) {
	key, err := decodePrivate(b)
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if alg == jwa.ES256 && k.Curve == elliptic.P256() {
			return k, nil
		}
	case ed25519.PrivateKey:
		if alg == jwa.EdDSA {
			return k, nil
		}
	}
	return nil, fmt.Errorf("a %T key cannot sign %s (ES256 needs a P-256 private key, EdDSA an Ed25519 one)", key, alg)
}

// decodePrivate reads PKCS #8 or SEC 1 PEM, or a JWK (JSON object).
func decodePrivate(b []byte) (any, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		k, err := jwk.ParseKey(t)
		if err != nil {
			return nil, fmt.Errorf("parse JWK: %w", err)
		}
		var raw any
		if err := k.Raw(&raw); err != nil {
			return nil, fmt.Errorf("JWK: %w", err)
		}
		return raw, nil
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block (and not a JWK)")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return key, nil
}

func publicSet(pubs []jwk.Key) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range pubs {
		if err := set.AddKey(k); err != nil {
			return nil, fmt.Errorf("upstream: jwks: %w", err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("upstream: jwks: %w", err)
	}
	// The set we publish must pass the rules every verifier of ours applies
	// (keyset.Parse): above all, never a private member.
	if _, err := keyset.Parse(b); err != nil {
		return nil, fmt.Errorf("upstream: jwks: %w", err)
	}
	return b, nil
}

// Keys holds the current KeySet and swaps it atomically on reload, so
// readers (signing, the JWKS handler) never lock.
type Keys struct {
	files []string
	alg   string
	cur   atomic.Pointer[KeySet]
}

// NewKeys loads the key files; the set can later be re-read with Reload.
func NewKeys(files []string, alg string) (*Keys, error) {
	s, err := LoadKeySet(files, alg)
	if err != nil {
		return nil, err
	}
	k := &Keys{files: append([]string(nil), files...), alg: alg}
	k.cur.Store(s)
	return k, nil
}

// Current returns the active key set.
func (k *Keys) Current() *KeySet { return k.cur.Load() }

// Reload re-reads the key files. A file that fails to load leaves the
// current set in place (the error says why); changed is true when the
// files' contents differ from the active set's.
func (k *Keys) Reload() (changed bool, err error) {
	old := k.cur.Load()
	if old != nil && sameSources(old.sources, k.files) {
		return false, nil
	}
	s, err := LoadKeySet(k.files, k.alg)
	if err != nil {
		return false, err
	}
	k.cur.Store(s)
	return true, nil
}

// sameSources reports whether every file still holds the bytes loaded.
func sameSources(srcs [][]byte, files []string) bool {
	if len(srcs) != len(files) {
		return false
	}
	for i, f := range files {
		b, err := readBounded(f)
		if err != nil || !bytes.Equal(b, srcs[i]) {
			return false
		}
	}
	return true
}

// Watch re-reads the key files every interval until the returned stop
// function is called (stop waits for the goroutine to end). A reload that
// fails keeps the current keys and is logged; a changed set is logged
// with its key ids.
func (k *Keys) Watch(every time.Duration, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				changed, err := k.Reload()
				switch {
				case err != nil:
					log.Error("token_minting: signing keys not reloaded; the current keys stay", "error", err)
				case changed:
					log.Info("token_minting: signing keys reloaded", "signing_kid", k.Current().Kid(), "published", k.Current().Kids())
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
