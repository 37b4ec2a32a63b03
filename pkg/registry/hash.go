package registry

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"

	"github.com/mcp-authz/mcp-authz/pkg/registry/jcs"
)

// ContentHashMember is the member of a tool definition that carries the
// definition's own hash (SEP-3140); it is left out of the hashed form.
const ContentHashMember = "contentHash"

// contentHashPrefix names the algorithm of a content hash (SEP-3140:
// "<alg>-<base64url>").
const contentHashPrefix = "sha256-"

// contentHashForm is "sha256-" followed by the unpadded base64url form of a
// 32-byte digest (43 characters, the last of which carries 2 spare bits).
var contentHashForm = regexp.MustCompile(`^sha256-[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$`)

// Hash returns the lower-case hex SHA-256 of the RFC 8785 canonical form of
// manifest, the whole tool definition (typically a map[string]any decoded
// from JSON; json.Number values are fine). Key order, whitespace and number
// spelling (1.0 and 1, 1e2 and 100) do not change the hash. It is the
// legacy pin form (the "sha256" field); ContentHash is the current one.
func Hash(manifest any) (string, error) {
	sum, err := digest(manifest)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum[:]), nil
}

// ContentHash returns the SEP-3140 content hash of a tool definition:
// "sha256-" + base64url (unpadded) of the SHA-256 of the RFC 8785 canonical
// form of the definition without its own contentHash member. It is what
// the registry stores as content_hash and what drift watch compares.
func ContentHash(def map[string]any) (string, error) {
	sum, err := digest(withoutContentHash(def))
	if err != nil {
		return "", err
	}
	return contentHashPrefix + base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// ValidContentHash reports whether s has the content hash form
// "sha256-<43 base64url characters>" of a canonical 32-byte digest.
func ValidContentHash(s string) bool { return contentHashForm.MatchString(s) }

// ContentHashFromHex converts a legacy hex sha256 to the content hash form
// of the same digest.
func ContentHashFromHex(h string) (string, error) {
	sum, err := hex.DecodeString(h)
	if err != nil || len(sum) != sha256.Size {
		return "", errors.New("want 64 hex digits")
	}
	return contentHashPrefix + base64.RawURLEncoding.EncodeToString(sum), nil
}

// AdvertisedMismatch reports whether def carries its own contentHash that
// is not the hash of def: a server advertising a hash its definition does
// not have. A contentHash that is not a string counts as a mismatch.
func AdvertisedMismatch(def map[string]any) (bool, error) {
	raw, ok := def[ContentHashMember]
	if !ok {
		return false, nil
	}
	claimed, isString := raw.(string)
	got, err := ContentHash(def)
	if err != nil {
		return false, err
	}
	return !isString || claimed != got, nil
}

func digest(v any) ([sha256.Size]byte, error) {
	canon, err := jcs.Marshal(v)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("registry: canonicalizing manifest: %w", err)
	}
	return sha256.Sum256(canon), nil
}

// withoutContentHash returns def without its contentHash member (def itself
// when it has none; def is never modified).
func withoutContentHash(def map[string]any) map[string]any {
	if _, ok := def[ContentHashMember]; !ok {
		return def
	}
	out := make(map[string]any, len(def)-1)
	for k, v := range def {
		if k != ContentHashMember {
			out[k] = v
		}
	}
	return out
}
