package extauthz

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// rpcErrorBodyReference is rpcErrorBody before error.data was written
// directly: a map and json.Marshal.
func rpcErrorBodyReference(o outcome) string {
	msg := rpcMessages[o.rpcCode]
	if msg == "" {
		msg = "Request denied"
	}
	if o.decision != nil && o.decision.RPCError != nil && o.decision.RPCError.Message != "" {
		msg = o.decision.RPCError.Message
	}
	if o.rpcMessage != "" {
		msg = o.rpcMessage
	}
	id := "null"
	if len(o.id) > 0 {
		id = string(o.id)
	}
	data := map[string]any{"reason": o.reason}
	for k, v := range o.rpcData {
		data[k] = v
	}
	m, _ := json.Marshal(msg)
	d, _ := json.Marshal(data)
	var b strings.Builder
	b.Grow(96 + len(id) + len(d))
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.WriteString(id)
	b.WriteString(`,"error":{"code":`)
	b.WriteString(strconv.Itoa(o.rpcCode))
	b.WriteString(`,"message":`)
	b.Write(m)
	b.WriteString(`,"data":`)
	b.Write(d)
	b.WriteString(`}}`)
	return b.String()
}

func rpcOutcomes(reason, message, id string) []outcome {
	var raw json.RawMessage
	if id != "" {
		raw = json.RawMessage(id)
	}
	d := &policy.Decision{RPCError: &policy.RPCError{Message: message}}
	return []outcome{
		{reason: reason, rpcCode: codeParseError},
		{reason: reason, rpcCode: -32001, id: raw},
		{reason: reason, rpcCode: 12345, id: raw, decision: d},
		{reason: reason, rpcCode: -32600, id: raw, rpcMessage: message},
		{reason: reason, rpcCode: -32602, id: raw, rpcData: map[string]any{"supported": []string{"2025-06-18", message}}},
		{reason: reason, rpcCode: -32602, id: raw, rpcData: map[string]any{"reason": message, "a<b": 1}},
	}
}

var rpcBodyCases = [][3]string{
	{"tool_denied", "", `1`}, {"", "", ""}, {"<script>&amp;", "m<>&", `"x"`},
	{"é\u2028\u2029", "\xff\xfe", `{"odd":true}`}, {"quote\"back\\slash\n", "ctl\x01", `-0.5e3`},
}

// TestRPCErrorBodyDifferential: byte-equal to the map-and-Marshal form for
// every kind of outcome, with HTML, line separators, invalid UTF-8 and
// control characters in the reason and message.
func TestRPCErrorBodyDifferential(t *testing.T) {
	for _, c := range rpcBodyCases {
		for _, o := range rpcOutcomes(c[0], c[1], c[2]) {
			if got, want := rpcErrorBody(o), rpcErrorBodyReference(o); got != want {
				t.Errorf("rpcErrorBody(%+v) =\n%s\nwant\n%s", o, got, want)
			}
		}
	}
}

// FuzzRPCErrorBody: any reason, message and id bytes.
func FuzzRPCErrorBody(f *testing.F) {
	for _, c := range rpcBodyCases {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, reason, message, id string) {
		for _, o := range rpcOutcomes(reason, message, id) {
			if got, want := rpcErrorBody(o), rpcErrorBodyReference(o); got != want {
				t.Fatalf("rpcErrorBody(%q, %q, %q) =\n%s\nwant\n%s", reason, message, id, got, want)
			}
		}
	})
}
