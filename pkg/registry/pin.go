package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/mcp-authz/mcp-authz/pkg/registry/jcs"
)

// MaxServerFileBytes bounds the size of a server file ReadServerFile reads.
const MaxServerFileBytes = 16 << 20

// ServerData is one server's approved tools, the content of
// policies/mcp/servers/<server>/data.json (OPA serves it as
// data.mcp.servers.<server>).
type ServerData struct {
	// Resource is the server's resource identifier (RFC 8707).
	Resource string `json:"resource"`
	// Tools maps tool name to its approval.
	Tools map[string]PinnedTool `json:"tools"`
	// Workloads, when set, are the calling workloads (SPIFFE IDs, trailing
	// "/*" wildcard) allowed to reach this server. Kept on re-pin.
	Workloads []string `json:"workloads,omitempty"`
}

// PinnedTool is the approval of one tool.
type PinnedTool struct {
	// ContentHash is ContentHash(Manifest) in the SEP-3140 form
	// "sha256-<base64url>"; a tool without it (or SHA256) is registered, not
	// approved.
	ContentHash string `json:"content_hash,omitempty"`
	// SHA256 is the deprecated hex pin Hash(Manifest). Files that carry it
	// still load (it must agree with ContentHash when both are present);
	// Pin no longer writes it.
	SHA256 string `json:"sha256,omitempty"`
	// Scopes are the OAuth scopes a token needs to call the tool.
	Scopes []string `json:"scopes,omitempty"`
	// Manifest is the whole approved tool definition.
	Manifest map[string]any `json:"manifest,omitempty"`
	// Cost is the units a call charges to the budgets that apply (nil: 1).
	// Kept on re-pin.
	Cost *int64 `json:"cost,omitempty"`
	// RequireDPoP refuses calls with a token that is not DPoP-bound.
	RequireDPoP bool `json:"require_dpop,omitempty"`
	// Workloads, when set, are the calling workloads allowed to call the tool.
	Workloads []string `json:"workloads,omitempty"`
}

// defaultScopes are given to a tool pinned for the first time.
var defaultScopes = []string{"mcp:tools"}

// Pin approves the live tool definitions of server (from FetchTools): every
// live tool gets its manifest and content_hash (the hex sha256 is dropped), keeping the scopes, require_dpop,
// cost and workloads a reviewer gave it before (a new tool gets ["mcp:tools"]). Tools no longer live are dropped. previous
// may be nil; resource "" keeps previous.Resource. The changes are those of
// Diff(server, previous, live), for review.
func Pin(server, resource string, live map[string]map[string]any, previous *ServerData) (ServerData, []Change) {
	sd := ServerData{Resource: resource, Tools: make(map[string]PinnedTool, len(live))}
	if previous != nil {
		if resource == "" {
			sd.Resource = previous.Resource
		}
		sd.Workloads = slices.Clone(previous.Workloads)
	}
	var problems []Change
	for _, name := range slices.Sorted(maps.Keys(live)) {
		entry := PinnedTool{Manifest: live[name], Scopes: slices.Clone(defaultScopes)}
		if p, ok := previousTool(previous, name); ok {
			if p.Scopes != nil {
				entry.Scopes = slices.Clone(p.Scopes)
			}
			entry.RequireDPoP, entry.Workloads, entry.Cost = p.RequireDPoP, slices.Clone(p.Workloads), p.Cost
		}
		entry.ContentHash, problems = pinHash(server, name, live[name], problems)
		sd.Tools[name] = entry
	}
	return sd, append(Diff(server, previous, live), problems...)
}

// pinHash returns the content hash to pin for a live definition, or "" (left
// unapproved, with a Change saying why) when it cannot be hashed or carries
// a contentHash that is not its own.
func pinHash(server, name string, def map[string]any, problems []Change) (string, []Change) {
	unapproved := func(why string) (string, []Change) {
		return "", append(problems, Change{Server: server, Tool: name, Kind: Changed, Detail: "left unapproved: " + why})
	}
	h, err := ContentHash(def)
	if err != nil {
		return unapproved(err.Error())
	}
	if bad, _ := AdvertisedMismatch(def); bad {
		return unapproved(DriftContentHashMismatch + ": the definition's contentHash is not its content hash " + h)
	}
	return h, problems
}

func previousTool(previous *ServerData, name string) (PinnedTool, bool) {
	if previous == nil {
		return PinnedTool{}, false
	}
	p, ok := previous.Tools[name]
	return p, ok
}

// ReadServerFile reads a server file strictly: I-JSON only (no duplicate
// keys, valid UTF-8), no unknown fields, at most MaxServerFileBytes.
// Numbers in manifests stay json.Number.
func ReadServerFile(path string) (*ServerData, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxServerFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("registry: reading %s: %w", path, err)
	}
	if len(data) > MaxServerFileBytes {
		return nil, fmt.Errorf("registry: %s: larger than %d bytes", path, MaxServerFileBytes)
	}
	sd, err := decodeServerData(data)
	if err != nil {
		return nil, fmt.Errorf("registry: %s: %w", path, err)
	}
	return sd, nil
}

func decodeServerData(data []byte) (*ServerData, error) {
	if _, err := jcs.Canonicalize(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var sd ServerData
	if err := dec.Decode(&sd); err != nil {
		return nil, err
	}
	if sd.Tools == nil {
		return nil, errors.New(`missing "tools" object`)
	}
	return &sd, nil
}

// WriteServerFile writes sd to path deterministically (members sorted,
// two-space indent, no HTML escaping, trailing newline), creating the
// directory if needed and replacing the file atomically.
func WriteServerFile(path string, sd ServerData) error {
	if sd.Tools == nil {
		sd.Tools = map[string]PinnedTool{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sd); err != nil {
		return fmt.Errorf("registry: encoding %s: %w", path, err)
	}
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("registry: writing %s: %w", path, err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".data-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
