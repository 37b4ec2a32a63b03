package policy

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// handoffCases are handoffs meant to reach every branch of the direct
// writer: omitempty members set and unset, nil and empty lists and maps,
// strings needing every kind of escape, numbers in every form, ids that
// compact or escape, values outside the JSON data model.
func handoffCases() map[string]Handoff {
	full := HandoffOf(toolsCall("search_issues", "analyst"))
	full.Input.HTTP.Headers = map[string]string{"x-b": "2", "x-a": "<&>"}
	full.Input.MCP.Arguments = map[string]any{"q": "a\u2028b", "n": json.Number("-1.5e+10"), "f": 1e-7, "l": []any{nil, true, "x"}}
	full.Input.Principal.RolesError, full.Input.Principal.MayAct = "invalid_roles_claim", &Actor{Subject: "m", Issuer: "i", ClientID: "c"}
	full.Input.Principal.Act = []Actor{{Subject: "spiffe://a"}, {Subject: "b", ClientID: "c"}}
	full.Input.Workload = Workload{Principal: "spiffe://w", URISANs: []string{"spiffe://w", "x"}}
	full.Input.Resource.Server = "issues"
	full.Input.Connections = map[string]Connection{"gh": {Connected: true, Scopes: []string{"repo"}, ExpiresAt: "t"}, "a": {}}
	full.Injected = map[string]string{"gh": "v1", "a": "v\x00"}

	bare := Handoff{Input: Input{MCP: MCP{Kind: "none"}, Resource: Resource{ID: "r"}}}
	escapes := HandoffOf(toolsCall("t"))
	escapes.Input.Principal.Subject = "\x00\x01\b\f\n\r\t\x1f\"\\<>&\x7f é \u2028\u2029 \xff\xfe \xed\xa0\x80 😀"
	escapes.Input.Principal.Claims = map[string]any{"\n<k>": "\xc3", "": ""}
	numbers := HandoffOf(toolsCall("t"))
	numbers.Input.Principal.Claims = map[string]any{
		"a": 0.0, "b": math.Copysign(0, -1), "c": 1e21, "d": 1e20, "e": 1e-6, "f": 9.99e-7, "g": -1.5e-300, "h": 123456789.0,
		"i": json.Number(""), "j": json.Number("0"), "k": json.Number("-0.0e-0"), "m": 3, "n": int64(-7), "o": uint8(1),
		"p": map[string]any{"q": []any{map[string]any{}, []any{}}}, "r": []string{"s"}, "t": []string(nil),
		"u": map[string]any(nil), "v": []any(nil), "w": map[string]int{"z": 1, "y": 2}, "x": float32(0.1),
	}
	ids := map[string]Handoff{}
	for name, id := range map[string]string{"number": `7`, "string": `"abc"`, "spaced": `"a b"`, "html": `"<a&b>"`,
		"unicode": `"é\u2028"`, "whitespace": " 1 ", "object": "{\"a\": [1, 2]}", "escape": `"\u0041\n"`} {
		h := HandoffOf(toolsCall("t"))
		h.Input.MCP.ID = json.RawMessage(id)
		ids["id "+name] = h
	}
	out := map[string]Handoff{"full": full, "bare": bare, "escapes": escapes, "numbers": numbers}
	for k, v := range ids {
		out[k] = v
	}
	return out
}

// TestHandoffEncodeDifferential holds the direct writer byte-identical to
// encoding/json (the reference, encodeReflect).
func TestHandoffEncodeDifferential(t *testing.T) {
	for name, h := range handoffCases() {
		t.Run(name, func(t *testing.T) { checkHandoffEncode(t, h) })
	}
}

// TestHandoffEncodeErrors: what encoding/json refuses, the writer refuses.
func TestHandoffEncodeErrors(t *testing.T) {
	for name, v := range map[string]any{"NaN": math.NaN(), "Inf": math.Inf(-1), "bad number": json.Number("01"),
		"bad nested": map[string]any{"a": []any{json.Number("1.")}}, "func": func() {}} {
		h := HandoffOf(toolsCall("t"))
		h.Input.Principal.Claims = map[string]any{"x": v}
		if enc, err := h.Encode(); err == nil {
			t.Errorf("%s: Encode() = %s, nil; want an error", name, enc)
		}
	}
	h := HandoffOf(toolsCall("t"))
	h.Input.MCP.ID = json.RawMessage(`{"a":`)
	if enc, err := h.Encode(); err == nil {
		t.Errorf("Encode() with a malformed id = %s, nil; want an error", enc)
	}
}

// checkHandoffEncode compares Encode with json.Marshal: the same bytes, or
// both an error.
func checkHandoffEncode(t *testing.T, h Handoff) {
	t.Helper()
	got, err := h.Encode()
	want, wantErr := h.encodeReflect()
	if (err != nil) != (wantErr != nil) || got != want {
		t.Fatalf("Encode() =\n%s, %v\nwant (encoding/json)\n%s, %v", got, err, want, wantErr)
	}
	if err == nil && !json.Valid([]byte(got)) {
		t.Fatalf("Encode() = %s; not JSON", got)
	}
}

// TestHandoffEncodeReflectFallback: a handoff that is not HandoffOf's
// projection (tool, list or output set) is still encoded exactly.
func TestHandoffEncodeReflectFallback(t *testing.T) {
	h := Handoff{Input: *toolsCall("search_issues")}
	h.Input.Tool = &Tool{ID: "issues/search_issues", Registered: true, Annotations: map[string]bool{"readOnlyHint": true}}
	checkHandoffEncode(t, h)
}

// FuzzHandoffEncode decodes arbitrary claims, arguments and id the way
// the identity and MCP parsers do (numbers kept as json.Number) and
// requires the direct writer to match encoding/json, and the decoder to
// read back what was written.
func FuzzHandoffEncode(f *testing.F) {
	f.Add(`{"sub":"alice","exp":4102444800,"roles":["a"],"n":null,"o":{"b":true}}`, `{"q":"<x>"}`, `7`, "alice", false)
	f.Add(`{"\u2028":"\ud800","f":1e-7}`, `{}`, `"a b"`, "\x00\xff", true)
	f.Add(`{"x":[1.0,-0,2E+3]}`, `{"deep":[[{"a":"b"}]]}`, ` 1 `, "<&>", false)
	f.Fuzz(func(t *testing.T, claims, args, id, s string, floats bool) {
		h := HandoffOf(toolsCall("t"))
		h.Input.Principal.Claims = decodeObject(claims, !floats)
		h.Input.MCP.Arguments = decodeObject(args, !floats)
		h.Input.MCP.ID = json.RawMessage(id)
		h.Input.Principal.Subject, h.Input.HTTP.Path, h.Input.Request.ID = s, s, s
		h.Injected = map[string]string{s: s}
		checkHandoffEncode(t, h)
		enc, err := h.Encode()
		if err != nil {
			return
		}
		if _, err := DecodeHandoff(enc); err != nil && len(enc) <= MaxHandoffBytes {
			t.Errorf("DecodeHandoff(Encode()) = %v; want the handoff back", err)
		}
	})
}

// decodeObject decodes s as one JSON object (nil when it is not one).
func decodeObject(s string, useNumber bool) map[string]any {
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	if useNumber {
		d.UseNumber()
	}
	if d.Decode(&m) != nil {
		return nil
	}
	return m
}

// TestHandoffEncodeBufferReuse: pooled buffers never leak one handoff
// into the next (each result is its own copy).
func TestHandoffEncodeBufferReuse(t *testing.T) {
	long := HandoffOf(toolsCall("t"))
	long.Input.Principal.Subject = strings.Repeat("x", 4096)
	short := HandoffOf(toolsCall("t"))
	a, err := long.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := short.Encode()
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := long.Encode()
	if a != a2 || bytes.Contains([]byte(b), []byte("xxxx")) {
		t.Errorf("Encode results share a buffer: %.80s / %.80s", a, b)
	}
}
