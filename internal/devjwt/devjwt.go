// Package devjwt signs RS256 JWTs with the standard library, for the
// `mcp-authz dev token` command and for tests that need real tokens. It is
// deliberately not used for verification (that is pkg/identity, behind jwx)
// and holds no keys: callers pass test-only keys.
package devjwt

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// SignRS256 returns a compact JWS over claims with header {alg RS256, typ
// JWT, kid}.
func SignRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("devjwt: claims: %w", err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("devjwt: sign: %w", err)
	}
	return input + "." + enc.EncodeToString(sig), nil
}

// ReadRSAKey reads a PEM RSA private key (PKCS #1 or PKCS #8).
func ReadRSAKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("devjwt: %s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devjwt: %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("devjwt: " + path + ": not an RSA key")
	}
	return rk, nil
}
