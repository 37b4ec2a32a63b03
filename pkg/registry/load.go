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
}

func (o Options) withDefaults() Options {
	if o.MaxSchemaBytes <= 0 {
		o.MaxSchemaBytes = DefaultMaxSchemaBytes
	}
	if o.MaxTools <= 0 {
		o.MaxTools = DefaultMaxTools
	}
	return o
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Load builds a Registry from a bundle's data.mcp value (the "servers"
// member is read; other members are the policy's). Every tool that carries
// a sha256 must carry the manifest it hashes: a mismatch, a manifest whose
// name is not the tool's key, or an inputSchema that does not compile
// refuses the whole bundle. A tool without sha256 is registered but not
// approved. All problems are returned together (errors.Join), each naming
// its path, e.g. "servers.issues.tools.get_issue.sha256: ...".
func Load(mcpData map[string]any, opts Options) (*Registry, error) {
	opts = opts.withDefaults()
	r := &Registry{servers: map[string]*serverEntry{}, byResource: map[string]string{}}
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
	return r, nil
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
	sha, has := obj["sha256"]
	if !has {
		return &toolEntry{}, nil
	}
	want, ok := sha.(string)
	if !ok || !sha256Hex.MatchString(want) {
		return nil, fmt.Errorf("%s.sha256: want 64 lower-case hex digits", path)
	}
	manifest, ok := obj["manifest"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s.manifest: a tool with sha256 needs its manifest object", path)
	}
	if err := verifyManifest(name, want, manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &toolEntry{hash: want}
	var err error
	if t.schema, err = compileSchema(server+"/"+name, manifest["inputSchema"], opts.MaxSchemaBytes); err != nil {
		return nil, fmt.Errorf("%s.manifest.inputSchema: %w", path, err)
	}
	if t.headers, err = scanHeaders(manifest["inputSchema"]); err != nil {
		return nil, fmt.Errorf("%s.manifest.inputSchema: %w", path, err)
	}
	t.names = collectNames(manifest["inputSchema"])
	return t, nil
}

// verifyManifest checks the manifest against its key and approved hash.
func verifyManifest(name, want string, manifest map[string]any) error {
	if got, _ := manifest["name"].(string); got != name {
		return fmt.Errorf("manifest.name %q is not the tool's key %q", got, name)
	}
	got, err := Hash(manifest)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if got != want {
		return fmt.Errorf("sha256 %s does not match the manifest (its hash is %s)", want, got)
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
