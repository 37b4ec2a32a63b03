package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// The ext_authz → ext_proc handoff. Envoy sends ext_proc only headers and
// bodies, never the request body ext_authz judged, so the response side
// cannot know on its own which JSON-RPC request a response answers, nor for
// whom. Check therefore returns, with every allow, a projection of the
// input it decided as ext_authz dynamic metadata; Envoy files it under the
// ext_authz filter's namespace and, with ext_proc's
// metadata_options.forwarding_namespaces.untyped naming that namespace,
// forwards it in every ProcessingRequest.metadata_context. The request is
// decided once; the response side reuses that decision's facts.
const (
	// HandoffNamespace is the dynamic metadata namespace of Envoy's HTTP
	// ext_authz filter (its canonical name), where Check's metadata lands.
	HandoffNamespace = "envoy.filters.http.ext_authz"
	// HandoffKey is the member of that namespace holding the handoff, a
	// JSON string (a string keeps numbers and types exact through
	// protobuf's Struct). A policy's own dynamic_metadata member of this
	// name is replaced.
	HandoffKey = "mcp_authz"
	// MaxHandoffBytes bounds the handoff a processor decodes.
	MaxHandoffBytes = 64 << 10
)

// Handoff is what Check hands the response side: the decided input without
// the request headers and the tool arguments (neither is needed to judge a
// response, and arguments are request data that must not spread).
type Handoff struct {
	// Input is the decided input, minus HTTP.Headers, MCP.Arguments and Tool.
	Input Input `json:"input"`
	// Injected names the third-party credentials Check put upstream in their
	// providers' headers: provider → the credential's version (a keyed
	// fingerprint, never the token). When the upstream says it refused one,
	// the response side marks that credential, and only it, stale.
	Injected map[string]string `json:"injected,omitempty"`
}

// HandoffOf projects in for the response side.
func HandoffOf(in *Input) Handoff {
	h := Handoff{Input: *in}
	h.Input.HTTP.Headers = nil
	h.Input.MCP.Arguments = nil
	h.Input.Tool = nil
	h.Input.List = nil
	h.Input.Output = nil
	return h
}

// Encode returns the handoff as the JSON string stored under HandoffKey:
// the bytes json.Marshal writes, appended directly (handoffjson.go).
func (h Handoff) Encode() (string, error) {
	if h.Input.Tool != nil || h.Input.List != nil || h.Input.Output != nil {
		return h.encodeReflect() // not a projection HandoffOf makes
	}
	buf := handoffBufs.Get().(*[]byte)
	b, err := appendHandoff((*buf)[:0], &h)
	if err != nil {
		return "", fmt.Errorf("policy: encoding handoff: %w", err)
	}
	s := string(b)
	if cap(b) <= MaxHandoffBytes {
		*buf = b
		handoffBufs.Put(buf)
	}
	return s, nil
}

// encodeReflect is Encode through encoding/json: the reference the
// direct writer is tested against.
func (h Handoff) encodeReflect() (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("policy: encoding handoff: %w", err)
	}
	return string(b), nil
}

// handoffBufs keeps encoding buffers between Checks (each handoff is
// copied out into its string); one over MaxHandoffBytes is not kept.
var handoffBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// DecodeHandoff reads a handoff strictly: bounded, one JSON object, no
// unknown members, numbers kept exact.
func DecodeHandoff(s string) (Handoff, error) {
	var h Handoff
	if len(s) > MaxHandoffBytes {
		return h, fmt.Errorf("policy: handoff of %d bytes, limit %d", len(s), MaxHandoffBytes)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&h); err != nil {
		return Handoff{}, fmt.Errorf("policy: decoding handoff: %w", err)
	}
	if dec.More() {
		return Handoff{}, errors.New("policy: decoding handoff: trailing data")
	}
	if h.Input.Resource.ID == "" || h.Input.MCP.Kind == "" {
		return Handoff{}, errors.New("policy: decoding handoff: no resource or message kind")
	}
	return h, nil
}
