package registry

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcp-authz/mcp-authz/pkg/registry/jcs"
)

// ChangeKind classifies a difference between a pinned and a live tool.
type ChangeKind string

// Change kinds.
const (
	// Added: the live server offers a tool that is not pinned.
	Added ChangeKind = "added"
	// Removed: a pinned tool is no longer offered.
	Removed ChangeKind = "removed"
	// DescriptionChanged: the description differs.
	DescriptionChanged ChangeKind = "description_changed"
	// SchemaChanged: inputSchema or outputSchema differs.
	SchemaChanged ChangeKind = "schema_changed"
	// Changed: another part of the definition differs (title, annotations,
	// _meta, ...), the stored content_hash or sha256 does not match its
	// manifest, or the live definition's own contentHash is wrong.
	Changed ChangeKind = "changed"
)

// Change is one reviewable difference.
type Change struct {
	// Server and Tool name the tool.
	Server, Tool string
	// Kind says what changed.
	Kind ChangeKind
	// Detail shows the difference for a human reviewer: quoted old and new
	// descriptions, or JSON-pointer paths with old and new values. Text is
	// truncated and non-graphic characters are escaped so it is safe to
	// print on a terminal.
	Detail string
}

// String renders the change on one line: "server/tool: kind: detail".
func (c Change) String() string {
	s := c.Server + "/" + c.Tool + ": " + string(c.Kind)
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Limits on what a Change shows.
const (
	maxDetailText  = 300 // characters of one description or value
	maxDetailPaths = 20  // differing paths listed per change
)

// Diff compares the pinned tools of server (nil means none) with the live
// definitions and returns the differences sorted by tool, or nil when the
// live server matches.
func Diff(server string, pinned *ServerData, live map[string]map[string]any) []Change {
	var tools map[string]PinnedTool
	if pinned != nil {
		tools = pinned.Tools
	}
	names := slices.Sorted(maps.Keys(tools))
	for n := range maps.Keys(live) {
		if _, ok := tools[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []Change
	for _, name := range names {
		p, isPinned := tools[name]
		l, isLive := live[name]
		switch {
		case !isLive:
			out = append(out, Change{Server: server, Tool: name, Kind: Removed})
		case !isPinned:
			out = append(out, Change{Server: server, Tool: name, Kind: Added, Detail: "description " + reviewText(l["description"])})
		default:
			out = append(out, toolChanges(server, name, p, l)...)
		}
	}
	return out
}

// toolChanges compares one pinned tool with its live definition.
func toolChanges(server, name string, p PinnedTool, live map[string]any) []Change {
	var out []Change
	mk := func(k ChangeKind, detail string) {
		out = append(out, Change{Server: server, Tool: name, Kind: k, Detail: detail})
	}
	if h, err := ContentHash(p.Manifest); p.ContentHash != "" && (err != nil || h != p.ContentHash) {
		mk(Changed, "stored content_hash does not match the pinned manifest")
	}
	if h, err := Hash(p.Manifest); p.SHA256 != "" && (err != nil || h != p.SHA256) {
		mk(Changed, "stored sha256 does not match the pinned manifest")
	}
	if p.ContentHash == "" && p.SHA256 == "" {
		mk(Changed, "not approved: no content_hash")
	}
	if bad, _ := AdvertisedMismatch(live); bad {
		mk(Changed, DriftContentHashMismatch+": the live definition's contentHash is not its content hash")
	}
	if sameJSON(p.Manifest, live) {
		return out
	}
	if !sameJSON(p.Manifest["description"], live["description"]) {
		mk(DescriptionChanged, reviewText(p.Manifest["description"])+" -> "+reviewText(live["description"]))
	}
	var schema, other []string
	for _, k := range unionKeys(p.Manifest, live) {
		if k == "description" {
			continue
		}
		paths := valueDiff("/"+k, p.Manifest[k], live[k], nil)
		if k == "inputSchema" || k == "outputSchema" {
			schema = append(schema, paths...)
		} else {
			other = append(other, paths...)
		}
	}
	if len(schema) > 0 {
		mk(SchemaChanged, joinPaths(schema))
	}
	if len(other) > 0 {
		mk(Changed, joinPaths(other))
	}
	return out
}

// valueDiff appends one line per differing leaf of a and b under path:
// "+path: new", "-path: old" or "path: old -> new".
func valueDiff(path string, a, b any, out []string) []string {
	if sameJSON(a, b) {
		return out
	}
	am, aObj := a.(map[string]any)
	bm, bObj := b.(map[string]any)
	if !aObj || !bObj {
		switch {
		case a == nil:
			return append(out, "+"+path+": "+reviewJSON(b))
		case b == nil:
			return append(out, "-"+path+": "+reviewJSON(a))
		}
		return append(out, path+": "+reviewJSON(a)+" -> "+reviewJSON(b))
	}
	for _, k := range unionKeys(am, bm) {
		out = valueDiff(path+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), am[k], bm[k], out)
	}
	return out
}

func unionKeys(a, b map[string]any) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func joinPaths(paths []string) string {
	if len(paths) > maxDetailPaths {
		more := len(paths) - maxDetailPaths
		paths = append(paths[:maxDetailPaths:maxDetailPaths], fmt.Sprintf("... and %d more", more))
	}
	return strings.Join(paths, "; ")
}

// sameJSON compares two values by their canonical forms.
func sameJSON(a, b any) bool {
	ca, errA := jcs.Marshal(a)
	cb, errB := jcs.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// reviewText quotes a description for review.
func reviewText(v any) string {
	s, ok := v.(string)
	if !ok {
		return reviewJSON(v)
	}
	return strconv.Quote(truncate(s, maxDetailText))
}

// reviewJSON shows a value in canonical JSON, truncated, with characters
// that are not printable (bidi controls, DEL, ...) escaped as \u and four hex digits.
func reviewJSON(v any) string {
	b, err := jcs.Marshal(v)
	if err != nil {
		return "(unencodable)"
	}
	var sb strings.Builder
	for _, r := range truncate(string(b), maxDetailText) {
		if strconv.IsPrint(r) {
			sb.WriteRune(r)
		} else {
			fmt.Fprintf(&sb, "\\u%04x", r)
		}
	}
	return sb.String()
}

func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + "..."
		}
		n++
	}
	return s
}
