// Package bundles embeds the default policy bundle, so mcp-authz decides
// with the reference policy (policies/) out of the box and a deployment
// without a bundle server still has a known, versioned policy.
//
// default.tar.gz is generated, never edited: `make bundle` (go run
// ./bundles/gen) rebuilds it from policies/, and a test fails when it is
// stale. Its revision is "default-" + the first 12 hex of the SHA-256 of
// its content (policy.DigestDir), so a log line names exactly which policy
// decided.
package bundles

import (
	_ "embed" // the default bundle is embedded
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

//go:generate go run ./gen -policies ../policies -out default.tar.gz

//go:embed default.tar.gz
var defaultTarball []byte

// RevisionPrefix starts the revision of every default bundle.
const RevisionPrefix = "default-"

// Default returns the embedded default bundle, ready for Engine.Activate.
func Default() (*bundle.Bundle, error) {
	b, err := policy.LoadBundleBytes(defaultTarball)
	if err != nil {
		return nil, fmt.Errorf("bundles: default: %w", err)
	}
	return b, nil
}

// DefaultBytes returns a copy of the embedded default bundle tarball.
func DefaultBytes() []byte { return slices.Clone(defaultTarball) }

// Revision names a default bundle after the content digest of its sources.
func Revision(digest string) string {
	if len(digest) > 12 {
		digest = digest[:12]
	}
	return RevisionPrefix + digest
}

// Build builds the default bundle from policiesDir exactly as the embedded
// one was built: unsigned, revision Revision(policy.DigestDir(policiesDir)).
func Build(policiesDir string) ([]byte, error) {
	digest, err := policy.DigestDir(policiesDir)
	if err != nil {
		return nil, fmt.Errorf("bundles: build: %w", err)
	}
	tgz, err := policy.BuildBundle(policiesDir, Revision(digest), nil)
	if err != nil {
		return nil, fmt.Errorf("bundles: build: %w", err)
	}
	return tgz, nil
}
