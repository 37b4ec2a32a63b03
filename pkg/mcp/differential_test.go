package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"
)

// lenientDecode decodes one JSON value the way the MCP SDKs do: last member
// wins, names are case-sensitive, numbers stay json.Number.
func lenientDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// goStructView is how a Go server decoding into structs with encoding/json
// reads the message: member names match case-insensitively.
type goStructView struct {
	ID     json.RawMessage
	Method json.RawMessage
	Params json.RawMessage
}

type goParamsView struct {
	Name      json.RawMessage
	URI       json.RawMessage
	Arguments json.RawMessage
}

// judged is what the policy judges of a message: method, name (params.name
// or params.uri) and arguments.
type judged struct {
	Method string
	Name   any
	Args   any
}

// judgedOf returns what Parse's result says will be executed.
func judgedOf(msg *Message) judged {
	j := judged{Method: msg.Method}
	switch msg.Method {
	case "tools/call", "prompts/get", "resources/read", "resources/subscribe", "resources/unsubscribe":
		j.Name = msg.Name
	}
	if msg.Arguments != nil {
		j.Args = msg.Arguments
	}
	return j
}

// sdkJudged reads the same from a lenient map decode.
func sdkJudged(t *testing.T, body []byte, method string) judged {
	t.Helper()
	var m map[string]any
	if err := lenientDecode(body, &m); err != nil {
		t.Fatalf("encoding/json rejects a body Parse accepted: %v\nbody: %q", err, body)
	}
	j := judged{}
	j.Method, _ = m["method"].(string)
	params, _ := m["params"].(map[string]any)
	switch method {
	case "tools/call", "prompts/get":
		j.Name, j.Args = params["name"], params["arguments"]
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		j.Name = params["uri"]
	}
	return j
}

// goJudged reads the same through case-insensitive struct decoding.
func goJudged(t *testing.T, body []byte, method string) (judged, json.RawMessage) {
	t.Helper()
	var s goStructView
	var p goParamsView
	if err := lenientDecode(body, &s); err != nil {
		t.Fatalf("encoding/json struct decode rejects a body Parse accepted: %v\nbody: %q", err, body)
	}
	j := judged{}
	decodeRaw(t, s.Method, &j.Method)
	if len(s.Params) > 0 {
		if err := lenientDecode(s.Params, &p); err != nil {
			t.Fatalf("encoding/json params decode: %v\nbody: %q", err, body)
		}
	}
	switch method {
	case "tools/call", "prompts/get":
		j.Name, j.Args = rawValue(t, p.Name), rawValue(t, p.Arguments)
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		j.Name = rawValue(t, p.URI)
	}
	return j, s.ID
}

func decodeRaw(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if len(raw) > 0 {
		if err := lenientDecode(raw, v); err != nil {
			t.Fatalf("decode %q: %v", raw, err)
		}
	}
}

// rawValue decodes raw into an any, nil when absent.
func rawValue(t *testing.T, raw json.RawMessage) any {
	var v any
	decodeRaw(t, raw, &v)
	return v
}

// agree fails unless the lenient decoders execute what Parse judged.
func agree(t *testing.T, body []byte, msg *Message) {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("Parse accepted invalid JSON %q", body)
	}
	want := judgedOf(msg)
	if got := sdkJudged(t, body, msg.Method); !reflect.DeepEqual(got, want) {
		t.Errorf("SDK-like decoder reads %#v; Parse judged %#v\nbody: %q", got, want, body)
	}
	got, id := goJudged(t, body, msg.Method)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Go struct decoder reads %#v; Parse judged %#v\nbody: %q", got, want, body)
	}
	if msg.ID != nil && !bytes.Equal(id, msg.ID) {
		t.Errorf("Go struct decoder reads id %s; Parse judged %s\nbody: %q", id, msg.ID, body)
	}
	if msg.ID != nil && !sdkRequestID(msg.ID) {
		t.Errorf("Parse accepted id %s; the SDKs' RequestId is a string or an integer within ±(2^63-1)\nbody: %q", msg.ID, body)
	}
}

// sdkRequestID is the oracle for an acceptable id, written independently
// of Parse: a JSON string, or a number that json.Number.Int64 (strconv's
// base-10 ParseInt: no fraction, no exponent) reads as an int64 other than
// -2^63. That is both SDKs' RequestId (TypeScript: string or integer; Go:
// string or int64).
func sdkRequestID(raw json.RawMessage) bool {
	var v any
	if lenientDecode(raw, &v) != nil {
		return false
	}
	switch id := v.(type) {
	case string:
		return true
	case json.Number:
		n, err := id.Int64()
		return err == nil && n != math.MinInt64
	}
	return false
}

// checkError fails unless err is a well-formed *Error for body.
func checkError(t *testing.T, body []byte, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse(%q) error %T %v; want *Error", body, err, err)
	}
	switch e.Code {
	case CodeParseError, CodeInvalidRequest, CodeInvalidParams:
	default:
		t.Fatalf("Parse(%q) error code %d; want a JSON-RPC code", body, e.Code)
	}
	if e.Msg == "" {
		t.Errorf("Parse(%q) error has no message", body)
	}
	if e.Code == CodeParseError && e.ID != nil {
		t.Errorf("Parse(%q) = parse error with id %s; want null", body, e.ID)
	}
	if e.ID != nil && !sdkRequestID(e.ID) {
		t.Errorf("Parse(%q) error echoes id %s; want a string or an integer within ±(2^63-1), or null", body, e.ID)
	}
	if !json.Valid(body) && e.Code != CodeParseError && e.Msg != msgTooDeep && !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(%q) = %v for invalid JSON; want a parse error", body, err)
	}
}
