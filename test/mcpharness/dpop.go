package mcpharness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// DPoPKey is a client's ES256 proof-of-possession key (RFC 9449).
type DPoPKey struct {
	priv *ecdsa.PrivateKey
	jwk  map[string]string
	// JKT is the key's RFC 7638 SHA-256 thumbprint, for a token's cnf.jkt.
	JKT string
}

// NewDPoPKey generates a P-256 key.
func NewDPoPKey() (*DPoPKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dpop key: %w", err)
	}
	pub, err := priv.PublicKey.ECDH()
	if err != nil {
		return nil, fmt.Errorf("dpop key: %w", err)
	}
	point := pub.Bytes() // 0x04 || X || Y
	enc := base64.RawURLEncoding
	x, y := enc.EncodeToString(point[1:33]), enc.EncodeToString(point[33:])
	canon := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}` // RFC 7638 member order
	sum := sha256.Sum256([]byte(canon))
	return &DPoPKey{priv: priv, jwk: map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y}, JKT: enc.EncodeToString(sum[:])}, nil
}

// Proof signs a DPoP proof for method and htu, bound to token (ath).
func (k *DPoPKey) Proof(method, htu, token string) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("dpop jti: %w", err)
	}
	enc := base64.RawURLEncoding
	ath := sha256.Sum256([]byte(token))
	hdr, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk})
	cl, _ := json.Marshal(map[string]any{
		"jti": enc.EncodeToString(jti), "htm": method, "htu": htu,
		"iat": time.Now().Unix(), "ath": enc.EncodeToString(ath[:]),
	})
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(cl)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("dpop sign: %w", err)
	}
	sig := make([]byte, 64) // JWS ES256: R || S
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig), nil
}
