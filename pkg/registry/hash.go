package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/mcp-authz/mcp-authz/pkg/registry/jcs"
)

// Hash returns the lower-case hex SHA-256 of the RFC 8785 canonical form of
// manifest, the whole tool definition (typically a map[string]any decoded
// from JSON; json.Number values are fine). Key order, whitespace and number
// spelling (1.0 and 1, 1e2 and 100) do not change the hash.
func Hash(manifest any) (string, error) {
	canon, err := jcs.Marshal(manifest)
	if err != nil {
		return "", fmt.Errorf("registry: canonicalizing manifest: %w", err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}
