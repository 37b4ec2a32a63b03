package registry

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Defaults for Options fields left zero.
const (
	// DefaultMaxSchemaBytes bounds the canonical size of one inputSchema.
	DefaultMaxSchemaBytes = 64 << 10
	// DefaultMaxTools bounds the number of tools over all servers.
	DefaultMaxTools = 10_000
)

// Options bound what a bundle author controls at Load.
type Options struct {
	// MaxSchemaBytes is the largest inputSchema accepted, measured in its
	// RFC 8785 canonical form (0 means DefaultMaxSchemaBytes).
	MaxSchemaBytes int
	// MaxTools is the largest number of tools over all servers (0 means
	// DefaultMaxTools).
	MaxTools int
	// ArgCacheEntries bounds the argument validations the registry
	// remembers (0 means DefaultArgCacheEntries, < 0 turns the memo off).
	ArgCacheEntries int
	// ArgCacheBytes bounds their summed key bytes (0 means
	// DefaultArgCacheBytes).
	ArgCacheBytes int
}

func (o Options) withDefaults() Options {
	if o.MaxSchemaBytes <= 0 {
		o.MaxSchemaBytes = DefaultMaxSchemaBytes
	}
	if o.MaxTools <= 0 {
		o.MaxTools = DefaultMaxTools
	}
	if o.ArgCacheEntries == 0 {
		o.ArgCacheEntries = DefaultArgCacheEntries
	}
	if o.ArgCacheBytes <= 0 {
		o.ArgCacheBytes = DefaultArgCacheBytes
	}
	return o
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Load builds a Registry from a bundle's data.mcp value (the "servers"
// member is read; other members are the policy's). Every tool that carries
// a content_hash (or the deprecated hex sha256) must carry the manifest it
// hashes: a mismatch, both pins present and naming different digests, a
// manifest whose name is not the tool's key, a manifest whose own
// contentHash is wrong, or an inputSchema that does not compile refuses the
// whole bundle. A tool without either is registered but not approved. All problems are returned together (errors.Join), each naming
// its path, e.g. "servers.issues.tools.get_issue.sha256: ...".
func Load(mcpData map[string]any, opts Options) (*Registry, error) {
	opts = opts.withDefaults()
	r := &Registry{servers: map[string]*serverEntry{}, byResource: map[string]string{},
		args: newArgMemo(opts.ArgCacheEntries, opts.ArgCacheBytes)}
	raw, ok := mcpData["servers"]
	if !ok || raw == nil {
		return r, nil
	}
	servers, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("registry: servers: want an object")
	}
	var errs []error
	tools := 0
	for _, name := range slices.Sorted(maps.Keys(servers)) {
		s, err := loadServer(name, servers[name], opts)
		errs = append(errs, err)
		if s == nil {
			continue
		}
		tools += len(s.tools)
		if prev, dup := r.byResource[s.resource]; dup {
			errs = append(errs, fmt.Errorf("servers.%s.resource: %q is also the resource of server %q", name, s.resource, prev))
		}
		r.servers[name], r.byResource[s.resource] = s, name
	}
	if tools > opts.MaxTools {
		errs = append(errs, fmt.Errorf("servers: %d tools, more than the limit of %d", tools, opts.MaxTools))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r.number()
	return r, nil
}

// number gives every tool of r a distinct seq, its identity in the
// argument memo's keys.
func (r *Registry) number() {
	var n uint64
	for _, s := range r.servers {
		for _, t := range s.tools {
			t.seq = n
			n++
		}
	}
}

// loadServer checks one server entry. It returns a nil entry only when the
// entry is unusable; tool errors come back joined alongside.
func loadServer(name string, raw any, opts Options) (*serverEntry, error) {
	path := "servers." + name
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%s: server name must be non-empty and contain no '/'", path)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object", path)
	}
	resource, ok := obj["resource"].(string)
	if !ok || resource == "" {
		return nil, fmt.Errorf("%s.resource: want a non-empty string", path)
	}
	s := &serverEntry{resource: resource, tools: map[string]*toolEntry{}}
	rawTools, ok := obj["tools"].(map[string]any)
	if !ok && obj["tools"] != nil {
		return nil, fmt.Errorf("%s.tools: want an object", path)
	}
	var errs []error
	for _, tool := range slices.Sorted(maps.Keys(rawTools)) {
		t, err := loadTool(path+".tools."+tool, name, tool, rawTools[tool], opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.id = name + "/" + tool
		s.tools[tool] = t
	}
	return s, errors.Join(errs...)
}

// loadTool checks one tool entry at path.
func loadTool(path, server, name string, raw any, opts Options) (*toolEntry, error) {
	if name == "" {
		return nil, fmt.Errorf("%s: empty tool name", path)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object", path)
	}
	if err := checkScopes(obj["scopes"]); err != nil {
		return nil, fmt.Errorf("%s.scopes: %w", path, err)
	}
	want, legacy, err := pinnedHash(obj)
	if err != nil {
		return nil, fmt.Errorf("%s.%w", path, err)
	}
	if want == "" {
		return &toolEntry{}, nil
	}
	manifest, ok := obj["manifest"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s.manifest: an approved tool needs its manifest object", path)
	}
	if err := verifyManifest(name, want, legacy, manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &toolEntry{hash: want, legacy: legacy != "", annotations: trustedAnnotations(manifest["annotations"])}
	if t.schema, err = compileSchema(server+"/"+name, manifest["inputSchema"], opts.MaxSchemaBytes); err != nil {
		return nil, fmt.Errorf("%s.manifest.inputSchema: %w", path, err)
	}
	if t.headers, err = scanHeaders(manifest["inputSchema"]); err != nil {
		return nil, fmt.Errorf("%s.manifest.inputSchema: %w", path, err)
	}
	t.names = collectNames(manifest["inputSchema"])
	if t.outSchema, t.maxOutput, err = loadOutput(server+"/"+name, obj, manifest, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// pinnedHash reads a tool's approval: content_hash (SEP-3140 form) and the
// deprecated hex sha256. It returns the approved content hash ("" when the
// tool is not approved) and the legacy hex when one is present. When both
// are present they must name the same digest.
func pinnedHash(obj map[string]any) (want, legacy string, err error) {
	rawCH, hasCH := obj["content_hash"]
	rawSHA, hasSHA := obj["sha256"]
	if hasSHA {
		if legacy, _ = rawSHA.(string); !sha256Hex.MatchString(legacy) {
			return "", "", errors.New("sha256: want 64 lower-case hex digits")
		}
		want, _ = ContentHashFromHex(legacy)
	}
	if hasCH {
		ch, _ := rawCH.(string)
		if !ValidContentHash(ch) {
			return "", "", errors.New(`content_hash: want "sha256-" and 43 base64url characters`)
		}
		if hasSHA && ch != want {
			return "", "", fmt.Errorf("content_hash: %s and sha256 %s disagree", ch, legacy)
		}
		want = ch
	}
	return want, legacy, nil
}

// verifyManifest checks the manifest against its key and approved hash:
// the content hash of the definition, the legacy hex over the whole
// definition when one is pinned, and the definition's own contentHash
// when it carries one.
func verifyManifest(name, want, legacy string, manifest map[string]any) error {
	if got, _ := manifest["name"].(string); got != name {
		return fmt.Errorf("manifest.name %q is not the tool's key %q", got, name)
	}
	if legacy != "" {
		got, err := Hash(manifest)
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		if got != legacy {
			return fmt.Errorf("sha256 %s does not match the manifest (its hash is %s)", legacy, got)
		}
	}
	got, err := ContentHash(manifest)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if got != want {
		return fmt.Errorf("content_hash %s does not match the manifest (its content hash is %s)", want, got)
	}
	if claimed, ok := manifest[ContentHashMember]; ok && claimed != got {
		return fmt.Errorf("manifest.contentHash: content_hash_mismatch: the definition's own hash is not its content hash %s", got)
	}
	return nil
}

func checkScopes(raw any) error {
	if raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		if _, isStrings := raw.([]string); isStrings {
			return nil
		}
		return errors.New("want an array of strings")
	}
	for _, s := range list {
		if _, ok := s.(string); !ok {
			return errors.New("want an array of strings")
		}
	}
	return nil
}

// trustedAnnotations keeps the AnnotationHints of an approved manifest's
// annotations that are booleans; anything else is left out, so a policy
// applies the MCP defaults to it.
func trustedAnnotations(raw any) map[string]bool {
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, hint := range AnnotationHints {
		if b, ok := obj[hint].(bool); ok {
			out[hint] = b
		}
	}
	return out
}
