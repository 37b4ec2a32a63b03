package credstore

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the AES-256 key length a key file line must decode to.
const KeySize = 32

// maxKeys bounds how many keys a key file may hold (rotation keeps a few old ones).
const maxKeys = 16

// Keyring seals and opens records. The first key seals; every key opens, found
// by the key id stored in the record, so records sealed before a rotation stay
// readable until they are rewritten.
type Keyring struct {
	sealID  string
	sealKey []byte
	aeads   map[string]cipher.AEAD
}

// LoadKeyFile reads a key file: one base64 (standard or URL, padded or not)
// 32-byte key per line, blank lines and #-comments ignored; the first key seals.
func LoadKeyFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credstore: read encryption key file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := decodeKey(line)
		if err != nil {
			return nil, fmt.Errorf("credstore: encryption key file line %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("key is %d bytes, want %d", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("key is not base64")
}

// NewKeyring builds a keyring from raw 32-byte keys; the first seals.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("credstore: no encryption key")
	}
	if len(keys) > maxKeys {
		return nil, fmt.Errorf("credstore: %d encryption keys, at most %d", len(keys), maxKeys)
	}
	kr := &Keyring{aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("credstore: key %d is %d bytes, want %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("credstore: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("credstore: key %d: %w", i+1, err)
		}
		id := KeyID(k)
		if i == 0 {
			kr.sealID, kr.sealKey = id, append([]byte(nil), k...)
		}
		kr.aeads[id] = aead
	}
	return kr, nil
}

// KeyID names a key without revealing it: the first 8 bytes of its SHA-256, hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("mcp-authz credstore key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// envelope is the stored form of a record.
type envelope struct {
	Version int    `json:"v"`
	KeyID   string `json:"kid"`
	Nonce   []byte `json:"n"`
	Sealed  []byte `json:"c"`
}

// seal encrypts plaintext with the sealing key, binding it to aad.
func (kr *Keyring) seal(plaintext, aad []byte) (envelope, error) {
	aead := kr.aeads[kr.sealID]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return envelope{}, fmt.Errorf("credstore: nonce: %w", err)
	}
	return envelope{Version: 1, KeyID: kr.sealID, Nonce: nonce, Sealed: aead.Seal(nil, nonce, plaintext, aad)}, nil
}

// open decrypts an envelope with the key it names; any mismatch is an error.
func (kr *Keyring) open(env envelope, aad []byte) ([]byte, error) {
	if env.Version != 1 {
		return nil, fmt.Errorf("credstore: record version %d unknown", env.Version)
	}
	aead, ok := kr.aeads[env.KeyID]
	if !ok {
		return nil, fmt.Errorf("credstore: record sealed with unknown key %q", env.KeyID)
	}
	if len(env.Nonce) != aead.NonceSize() {
		return nil, errors.New("credstore: record nonce malformed")
	}
	pt, err := aead.Open(nil, env.Nonce, env.Sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("credstore: record does not open: %w", err)
	}
	return pt, nil
}

// additionalData is the record's key tuple, length-prefixed so that no two
// different tuples encode alike.
func additionalData(k Key) []byte {
	var b []byte
	b = append(b, "mcp-authz/credstore/v1"...)
	for _, s := range []string{k.Issuer, k.Subject, k.Provider} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// Derive returns an AEAD for another purpose (e.g. requestState) keyed from
// the sealing key, so no key is used for two purposes.
func (kr *Keyring) Derive(purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kr.DeriveKey(purpose))
	if err != nil {
		return nil, fmt.Errorf("credstore: derive %s: %w", purpose, err)
	}
	return cipher.NewGCM(block)
}

// DeriveKey returns 32 secret bytes for another purpose (e.g. an HMAC key),
// derived from the sealing key and distinct for every purpose.
func (kr *Keyring) DeriveKey(purpose string) []byte {
	sum := sha256.Sum256(append([]byte("mcp-authz derive\x00"+purpose+"\x00"), kr.sealKey...))
	return sum[:]
}
