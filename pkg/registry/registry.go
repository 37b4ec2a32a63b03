package registry

import (
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Registry is an immutable snapshot of the tool allowlist of one bundle
// revision. It is safe for concurrent use; build a new one with Load when the
// bundle changes. A nil *Registry registers nothing.
type Registry struct {
	servers    map[string]*serverEntry
	byResource map[string]string
	args       *argMemo // argument validations of this revision; nil: off
}

type serverEntry struct {
	resource string
	tools    map[string]*toolEntry
}

// toolEntry is one registered tool. hash (the approved content hash) is ""
// when the tool is registered but not approved; schema, headers and
// annotations are set only for approved tools.
type toolEntry struct {
	seq         uint64 // the tool's number in its Registry (the memo's key prefix)
	id          string // the canonical id, server + "/" + tool, built once at load
	hash        string
	legacy      bool            // approved by the deprecated hex sha256
	annotations map[string]bool // the approved manifest's known hints
	schema      *jsonschema.Schema
	headers     []headerBinding
	names       declaredNames // property names the schema declares, for the case check
	// outSchema is the approved outputSchema (nil: none); maxOutput the
	// tool's max_output_bytes (0: the processor's default).
	outSchema *jsonschema.Schema
	maxOutput int
}

// DriftSource reports whether the live definition of an approved tool no
// longer matches its approved content hash. Watcher implements it; a nil
// DriftSource never reports drift.
type DriftSource interface {
	// Drifted reports whether the tool with canonical ID id ("<server>/<tool>")
	// was last seen live with a hash other than approvedHash, or not at all.
	Drifted(id, approvedHash string) bool
}

// DriftExplainer is a DriftSource that also says why a tool drifted. Check
// uses it when the DriftSource implements it.
type DriftExplainer interface {
	// DriftReason returns "" when the tool has not drifted, else one of the
	// Drift* reasons.
	DriftReason(id, approvedHash string) string
}

// Drift reasons, as Verdict.DriftReason and the policy input carry them.
const (
	// DriftChanged: the live definition hashes differently from the pin.
	DriftChanged = "changed"
	// DriftRemoved: the live server no longer lists the tool.
	DriftRemoved = "removed"
	// DriftUnverified: the server is watched but was never listed.
	DriftUnverified = "unverified"
	// DriftContentHashMismatch: the live definition carries a contentHash
	// that is not its own hash (whatever the pin says).
	DriftContentHashMismatch = "content_hash_mismatch"
)

// AnnotationHints are the MCP ToolAnnotations hints the registry passes to
// the policy, taken from the approved manifest only.
var AnnotationHints = []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}

// Verdict is the registry's answer for one tools/call. The policy denies in
// this order: not Registered (tool_not_registered), not Approved
// (manifest_not_approved), Drifted (manifest_drift), not ArgumentsValid
// (invalid_arguments).
type Verdict struct {
	// ID is the canonical tool ID "<server>/<tool>".
	ID string
	// Registered is true when the server's allowlist names the tool.
	Registered bool
	// Approved is true when the tool has a verified manifest hash.
	Approved bool
	// Drifted is true when the DriftSource saw the live tool differ.
	Drifted bool
	// DriftReason says why (one of the Drift* reasons) when Drifted.
	DriftReason string
	// Annotations are the hints (AnnotationHints) the approved manifest
	// sets to a boolean; nil for a tool that is not Approved. They come from
	// the pin, never from the request or a live tools/list.
	Annotations map[string]bool
	// ArgumentsValid is true when the arguments match the approved
	// inputSchema. It is always false for a tool that is not Approved.
	ArgumentsValid bool
	// ArgumentsError names the first failing place as "<JSON pointer>:
	// <keyword>", e.g. "/limit: type", "(root): required" or
	// "/extra: additionalProperties". It never contains an argument value.
	ArgumentsError string
	// ParamHeaders lists the Mcp-Param-* headers the approved inputSchema
	// declares (x-mcp-header), with the values the arguments require.
	ParamHeaders []ParamHeader
	// Hash is the approved manifest hash ("" when not Approved): the
	// decision log names the exact manifest a call was judged against.
	Hash string
}

// ParamHeader is one x-mcp-header declaration of an approved tool and what
// the request's arguments require of it.
type ParamHeader struct {
	// Name is the HTTP header name, "Mcp-Param-" + the declared name.
	Name string
	// Pointer is the JSON pointer of the argument, e.g. "/region".
	Pointer string
	// Present is true when the argument is present and not null; the header
	// is then required, otherwise it must be absent.
	Present bool
	// Value is the argument in header form (a string as is, an integer in
	// decimal, a boolean as true or false) before any base64 wrapping. It is
	// request data: do not log it.
	Value string
}

// ServerForResource returns the server whose resource identifier (RFC 8707,
// the audience tokens carry) is resource.
func (r *Registry) ServerForResource(resource string) (string, bool) {
	if r == nil {
		return "", false
	}
	s, ok := r.byResource[resource]
	return s, ok
}

// ApprovedHashes returns tool name -> approved content hash for every
// approved tool of server (nil when the server is unknown).
func (r *Registry) ApprovedHashes(server string) map[string]string {
	s := r.server(server)
	if s == nil {
		return nil
	}
	out := make(map[string]string, len(s.tools))
	for name, t := range s.tools {
		if t.hash != "" {
			out[name] = t.hash
		}
	}
	return out
}

// LegacyPins returns the canonical ids of the tools approved by the
// deprecated hex sha256 field, sorted, so the caller can log one
// deprecation line per bundle.
func (r *Registry) LegacyPins() []string {
	var out []string
	for _, server := range r.Servers() {
		for name, t := range r.servers[server].tools {
			if t.legacy {
				out = append(out, server+"/"+name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Servers returns the registered server names, sorted.
func (r *Registry) Servers() []string {
	if r == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(r.servers))
}

func (r *Registry) server(name string) *serverEntry {
	if r == nil {
		return nil
	}
	return r.servers[name]
}

func (r *Registry) tool(server, tool string) *toolEntry {
	if s := r.server(server); s != nil {
		return s.tools[tool]
	}
	return nil
}

// Check answers whether tool of server may run with args, the tools/call
// arguments as the strict MCP parser decoded them (json.Number numbers; nil
// means no arguments and is checked as {}). drift may be nil.
func (r *Registry) Check(server, tool string, args map[string]any, drift DriftSource) Verdict {
	t := r.tool(server, tool)
	if t == nil {
		return Verdict{ID: server + "/" + tool}
	}
	v := Verdict{ID: t.id} // the same string, built at load instead of per Check
	v.Registered = true
	if t.hash == "" {
		return v
	}
	v.Approved = true
	v.Hash = t.hash
	v.Drifted = drift != nil && drift.Drifted(v.ID, t.hash)
	if v.Drifted {
		v.DriftReason = DriftChanged
		if x, ok := drift.(DriftExplainer); ok {
			if r := x.DriftReason(v.ID, t.hash); r != "" {
				v.DriftReason = r
			}
		}
	}
	v.Annotations = t.annotations
	v.ArgumentsValid, v.ArgumentsError = r.validate(t, args)
	v.ParamHeaders = t.paramHeaders(args)
	return v
}

// splitID splits a canonical tool ID at its first "/".
func splitID(id string) (server, tool string, ok bool) {
	return strings.Cut(id, "/")
}
