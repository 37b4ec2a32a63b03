package dpop

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// Bounds and defaults of server nonces (RFC 9449 §8).
const (
	// NonceKeyBytes is the size of the shared nonce key (AES-256).
	NonceKeyBytes = 32
	// DefaultNonceLifetime is how long an issued nonce is accepted.
	DefaultNonceLifetime = 2 * time.Minute
	// MinNonceLifetime and MaxNonceLifetime bound NonceOptions.Lifetime.
	MinNonceLifetime = 10 * time.Second
	MaxNonceLifetime = time.Hour
	// DefaultNonceSkew is how far in the future (another replica's clock)
	// an issue time may lie.
	DefaultNonceSkew = 30 * time.Second
	// maxNonceChars bounds the nonce claim before it is decoded.
	maxNonceChars = 128
)

// nonceAD binds sealed nonces to their purpose, so no other AES-GCM
// ciphertext under the same key is ever accepted as a nonce.
var nonceAD = []byte("mcp-authz dpop nonce v1")

// NonceOptions configures a NonceSource.
type NonceOptions struct {
	// Key is the NonceKeyBytes-byte key every replica shares.
	Key []byte
	// Lifetime is how long a nonce is accepted after it was issued
	// (default DefaultNonceLifetime).
	Lifetime time.Duration
	// Skew is how far in the future an issue time may lie (default
	// DefaultNonceSkew): replicas' clocks differ.
	Skew time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// NonceSource issues and checks stateless DPoP server nonces: each nonce is
// its issue time sealed with AES-256-GCM under a key every replica shares,
// so any replica accepts any replica's nonce with no shared store. A nonce
// bounds a proof's time; the jti cache still bounds replay. It is safe for
// concurrent use.
type NonceSource struct {
	aead     cipher.AEAD
	lifetime time.Duration
	skew     time.Duration
	clock    func() time.Time
}

// NewNonceSource returns a NonceSource for o.
func NewNonceSource(o NonceOptions) (*NonceSource, error) {
	if len(o.Key) != NonceKeyBytes {
		return nil, fmt.Errorf("dpop: nonce key is %d bytes; want %d", len(o.Key), NonceKeyBytes)
	}
	if o.Lifetime == 0 {
		o.Lifetime = DefaultNonceLifetime
	}
	if o.Lifetime < MinNonceLifetime || o.Lifetime > MaxNonceLifetime {
		return nil, fmt.Errorf("dpop: nonce lifetime %v is outside [%v, %v]", o.Lifetime, MinNonceLifetime, MaxNonceLifetime)
	}
	if o.Skew <= 0 {
		o.Skew = DefaultNonceSkew
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	block, err := aes.NewCipher(o.Key)
	if err != nil {
		return nil, fmt.Errorf("dpop: nonce key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("dpop: nonce key: %w", err)
	}
	return &NonceSource{aead: aead, lifetime: o.Lifetime, skew: o.Skew, clock: o.Clock}, nil
}

// ReadNonceKey reads a shared nonce key file: NonceKeyBytes random bytes as
// they are, or their base64 (standard or URL alphabet, padded or not) or
// hex, surrounding whitespace ignored. Errors never contain the key.
func ReadNonceKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dpop: nonce key: %w", err)
	}
	if key, ok := decodeNonceKey(b); ok {
		return key, nil
	}
	return nil, fmt.Errorf("dpop: nonce key %s: want %d random bytes, or their base64 or hex (e.g. head -c %d /dev/urandom | base64)", path, NonceKeyBytes, NonceKeyBytes)
}

// decodeNonceKey accepts the three encodings ReadNonceKey documents. They
// cannot be confused: the base64 or hex of 32 bytes is not 32 bytes long.
func decodeNonceKey(b []byte) ([]byte, bool) {
	if len(b) == NonceKeyBytes {
		return b, true
	}
	text := strings.TrimSpace(string(b))
	if key, err := hex.DecodeString(text); err == nil && len(key) == NonceKeyBytes {
		return key, true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.Strict().DecodeString(text); err == nil && len(key) == NonceKeyBytes {
			return key, true
		}
	}
	return nil, false
}

// Issue returns a fresh nonce: base64url of a random GCM nonce followed by
// the sealed issue time (Unix milliseconds).
func (s *NonceSource) Issue() (string, error) {
	iv := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+8+s.aead.Overhead())
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("dpop: nonce: %w", err)
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(s.clock().UnixMilli()))
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(iv, iv, ts[:], nonceAD)), nil
}

// Lifetime is how long an issued nonce is accepted.
func (s *NonceSource) Lifetime() time.Duration { return s.lifetime }

// detailNonce is the client-safe detail of every nonce failure.
const detailNonce = "DPoP proof needs a fresh server nonce (DPoP-Nonce)"

// Check returns nil when nonce was issued by a NonceSource sharing this key
// and has not expired, else a denial.UseDPoPNonce error: the client must
// retry with the nonce in the DPoP-Nonce header of the answer.
func (s *NonceSource) Check(nonce string) error {
	issued, err := s.open(nonce)
	if err != nil {
		return denial.WithDetail(denial.UseDPoPNonce, detailNonce, err)
	}
	age := s.clock().Sub(issued)
	switch {
	case age > s.lifetime:
		return denial.WithDetail(denial.UseDPoPNonce, detailNonce, fmt.Errorf("dpop: nonce expired %v ago", age-s.lifetime))
	case age < -s.skew:
		return denial.WithDetail(denial.UseDPoPNonce, detailNonce, fmt.Errorf("dpop: nonce issued %v in the future", -age))
	}
	return nil
}

// open decodes and authenticates a nonce and returns its issue time.
func (s *NonceSource) open(nonce string) (time.Time, error) {
	if nonce == "" {
		return time.Time{}, errors.New("dpop: proof has no nonce")
	}
	if len(nonce) > maxNonceChars {
		return time.Time{}, errors.New("dpop: nonce too long")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil || len(raw) != s.aead.NonceSize()+8+s.aead.Overhead() {
		return time.Time{}, errors.New("dpop: nonce is not one of ours")
	}
	n := s.aead.NonceSize()
	ts, err := s.aead.Open(nil, raw[:n], raw[n:], nonceAD)
	if err != nil {
		return time.Time{}, errors.New("dpop: nonce does not authenticate under our key")
	}
	ms := binary.BigEndian.Uint64(ts)
	if ms > 1<<62 {
		return time.Time{}, errors.New("dpop: nonce time out of range")
	}
	return time.UnixMilli(int64(ms)), nil
}
