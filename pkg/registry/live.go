package registry

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// What the response processor asks the registry about live responses: the
// hash of a tool definition an upstream is advertising right now, computed
// exactly as Pin computes the approved one, and the approved output rules
// (outputSchema, size bound) of a tools/call result.

// LiveHash decodes one tool definition of a live tools/list and returns its
// name ("" when it is not an object with a string name) and its live
// content hash: the same I-JSON check, decoding and SEP-3140 content hash
// Pin and the drift watch use (DriftContentHashMismatch when the tool
// advertises a contentHash that is not its own), so a live tool hashes
// equal to its approved manifest exactly when it is that manifest.
func LiveHash(def json.RawMessage) (name, hash string, err error) {
	obj, name, err := decodeDefinition(def)
	if err != nil {
		return "", "", err
	}
	if name == "" {
		return "", "", nil
	}
	return name, liveHash(obj), nil
}

// ListVerdict is the registry's verdict on a listed tool whose live
// definition hashes to liveHash, as a tools/call of it would get: Drifted
// when the live hash is not the approved one, or when drift reports it.
// Arguments count as valid: a list carries none.
func (r *Registry) ListVerdict(server, tool, liveHash string, drift DriftSource) Verdict {
	v := Verdict{ID: server + "/" + tool}
	t := r.tool(server, tool)
	if t == nil {
		return v
	}
	v.Registered = true
	if t.hash == "" {
		return v
	}
	v.Approved, v.ArgumentsValid = true, true
	v.Annotations = t.annotations
	v.Drifted = liveHash != t.hash || (drift != nil && drift.Drifted(v.ID, t.hash))
	if v.Drifted {
		v.DriftReason = DriftChanged
		if liveHash == DriftContentHashMismatch {
			v.DriftReason = DriftContentHashMismatch
		}
	}
	return v
}

// ApprovedHash returns the approved manifest hash of tool on server.
func (r *Registry) ApprovedHash(server, tool string) (string, bool) {
	t := r.tool(server, tool)
	if t == nil || t.hash == "" {
		return "", false
	}
	return t.hash, true
}

// MaxOutputBytes returns the approved tool's max_output_bytes (0 when it
// sets none, or the tool is not approved).
func (r *Registry) MaxOutputBytes(server, tool string) int {
	if t := r.tool(server, tool); t != nil {
		return t.maxOutput
	}
	return 0
}

// CheckOutput validates the structuredContent of a tools/call result of an
// approved tool against its approved outputSchema. has says whether the
// result carried structuredContent (decoded with json.Number numbers). A
// tool without an outputSchema accepts anything; one with an outputSchema
// needs structuredContent that matches it (MCP: servers MUST provide
// structured results conforming to it). detail names the failing place as
// "<JSON pointer>: <keyword>", never a value.
func (r *Registry) CheckOutput(server, tool string, structured any, has bool) (ok bool, detail string) {
	t := r.tool(server, tool)
	if t == nil || t.hash == "" {
		return false, "(root): tool not approved"
	}
	if t.outSchema == nil {
		return true, ""
	}
	if !has {
		return false, "(root): structuredContent missing"
	}
	if err := t.outSchema.Validate(structured); err != nil {
		return false, describe(err)
	}
	return true, ""
}

// loadOutput reads the approved outputSchema and max_output_bytes of a tool.
func loadOutput(id string, obj, manifest map[string]any, opts Options) (*jsonschema.Schema, int, error) {
	maxOut := 0
	if raw, ok := obj["max_output_bytes"]; ok {
		n, ok := positiveInt(raw)
		if !ok {
			return nil, 0, fmt.Errorf("max_output_bytes: want a positive integer")
		}
		maxOut = n
	}
	raw, ok := manifest["outputSchema"]
	if !ok || raw == nil {
		return nil, maxOut, nil
	}
	s, err := compileSchema(id+".output", raw, opts.MaxSchemaBytes)
	if err != nil {
		return nil, 0, fmt.Errorf("manifest.outputSchema: %w", err)
	}
	return s, maxOut, nil
}

// positiveInt reads a positive integer from bundle data (json.Number,
// float64 or int).
func positiveInt(v any) (int, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, false
		}
		f = float64(i)
	case float64:
		f = n
	case int:
		f = float64(n)
	default:
		return 0, false
	}
	if f < 1 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}
