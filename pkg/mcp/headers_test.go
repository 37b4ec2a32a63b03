package mcp

import (
	"encoding/json"
	"errors"
	"testing"
)

// hdrs is a Headers backed by a map of lower-case names.
type hdrs map[string][]string

func (h hdrs) Values(name string) []string { return h[name] }

// req2026 is a 2026-07-28 request for method naming name.
func req2026(method, name string) *Message {
	return &Message{Kind: KindRequest, Method: method, ID: json.RawMessage(`"r1"`), Name: name, MetaProtocolVersion: "2026-07-28"}
}

// ok2026 returns the headers a conforming client sends for msg.
func ok2026(method, name string) hdrs {
	h := hdrs{HeaderProtocolVersion: {"2026-07-28"}, HeaderMethod: {method}}
	if name != "" {
		h[HeaderName] = []string{name}
	}
	return h
}

func with(h hdrs, name string, values ...string) hdrs {
	out := hdrs{}
	for k, v := range h {
		out[k] = v
	}
	if values == nil {
		delete(out, name)
	} else {
		out[name] = values
	}
	return out
}

// headerCase is one behaviour of CheckHeaders; header "" means success,
// otherwise the header that the mismatch names.
type headerCase struct {
	name   string
	rev    Revision
	msg    *Message
	h      hdrs
	header string
}

var (
	call2026  = req2026("tools/call", "get_weather")
	base2026  = ok2026("tools/call", "get_weather")
	world2026 = req2026("tools/call", "Hello, 世界")
	notif2026 = &Message{Kind: KindNotification, Method: "notifications/cancelled"}
	resp2026  = &Message{Kind: KindResponse, ID: json.RawMessage("4")}
)

var headersOK = []headerCase{
	{"conforming tools/call", Rev20260728, call2026, base2026, ""},
	{"older revision has no routing headers", Rev20251125, call2026, hdrs{}, ""},
	{"resources/read names the uri", Rev20260728, req2026("resources/read", "file:///a.json"), ok2026("resources/read", "file:///a.json"), ""},
	{"prompts/get names the prompt", Rev20260728, req2026("prompts/get", "review"), ok2026("prompts/get", "review"), ""},
	{"tools/list needs no Mcp-Name", Rev20260728, req2026("tools/list", ""), ok2026("tools/list", ""), ""},
	{"base64 Mcp-Name decoded", Rev20260728, world2026, with(base2026, HeaderName, "=?base64?SGVsbG8sIOS4lueVjA==?="), ""},
	{"base64 of a sentinel-looking name", Rev20260728, req2026("tools/call", "=?base64?literal?="),
		with(base2026, HeaderName, "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="), ""},
	{"notification without Mcp-Method", Rev20260728, notif2026, hdrs{HeaderProtocolVersion: {"2026-07-28"}}, ""},
	{"notification with matching Mcp-Method", Rev20260728, notif2026,
		hdrs{HeaderProtocolVersion: {"2026-07-28"}, HeaderMethod: {"notifications/cancelled"}}, ""},
	{"response with the version only", Rev20260728, resp2026, hdrs{HeaderProtocolVersion: {"2026-07-28"}}, ""},
}

var headersMismatch = []headerCase{
	{"missing MCP-Protocol-Version", Rev20260728, call2026, with(base2026, HeaderProtocolVersion), "MCP-Protocol-Version"},
	{"repeated MCP-Protocol-Version", Rev20260728, call2026, with(base2026, HeaderProtocolVersion, "2026-07-28", "2026-07-28"), "MCP-Protocol-Version"},
	{"MCP-Protocol-Version differs from _meta", Rev20260728,
		&Message{Kind: KindRequest, Method: "tools/list", MetaProtocolVersion: "2025-11-25"}, ok2026("tools/list", ""), "MCP-Protocol-Version"},
	{"MCP-Protocol-Version differs from the revision", Rev20260728, req2026("tools/list", ""),
		with(ok2026("tools/list", ""), HeaderProtocolVersion, "2025-11-25"), "MCP-Protocol-Version"},
	{"request without a _meta protocol version", Rev20260728,
		&Message{Kind: KindRequest, Method: "tools/list", ID: json.RawMessage("1")}, ok2026("tools/list", ""), "MCP-Protocol-Version"},
	{"missing Mcp-Method", Rev20260728, call2026, with(base2026, HeaderMethod), "Mcp-Method"},
	{"Mcp-Method differs", Rev20260728, call2026, with(base2026, HeaderMethod, "tools/list"), "Mcp-Method"},
	{"Mcp-Method differs in case", Rev20260728, call2026, with(base2026, HeaderMethod, "Tools/Call"), "Mcp-Method"},
	{"repeated Mcp-Method", Rev20260728, call2026, with(base2026, HeaderMethod, "tools/call", "tools/call"), "Mcp-Method"},
	{"Mcp-Method with a control character", Rev20260728, call2026, with(base2026, HeaderMethod, "tools/call\x00"), "Mcp-Method"},
	{"notification with a different Mcp-Method", Rev20260728, notif2026,
		hdrs{HeaderProtocolVersion: {"2026-07-28"}, HeaderMethod: {"tools/call"}}, "Mcp-Method"},
	{"response with Mcp-Method", Rev20260728, resp2026,
		hdrs{HeaderProtocolVersion: {"2026-07-28"}, HeaderMethod: {"tools/call"}}, "Mcp-Method"},
	{"missing Mcp-Name", Rev20260728, call2026, with(base2026, HeaderName), "Mcp-Name"},
	{"Mcp-Name differs", Rev20260728, call2026, with(base2026, HeaderName, "delete_repo"), "Mcp-Name"},
	{"Mcp-Name differs in case", Rev20260728, call2026, with(base2026, HeaderName, "Get_Weather"), "Mcp-Name"},
	{"repeated Mcp-Name", Rev20260728, call2026, with(base2026, HeaderName, "get_weather", "delete_repo"), "Mcp-Name"},
	{"repeated identical Mcp-Name", Rev20260728, call2026, with(base2026, HeaderName, "get_weather", "get_weather"), "Mcp-Name"},
	{"Mcp-Name raw UTF-8", Rev20260728, world2026, with(base2026, HeaderName, "Hello, 世界"), "Mcp-Name"},
	{"base64 Mcp-Name of another name", Rev20260728, call2026, with(base2026, HeaderName, "=?base64?ZGVsZXRlX3JlcG8=?="), "Mcp-Name"},
	{"malformed base64 Mcp-Name", Rev20260728, call2026, with(base2026, HeaderName, "=?base64?***?="), "Mcp-Name"},
	{"unpadded base64 Mcp-Name", Rev20260728, world2026, with(base2026, HeaderName, "=?base64?SGVsbG8sIOS4lueVjA?="), "Mcp-Name"},
	{"base64 Mcp-Name of invalid UTF-8", Rev20260728, call2026, with(base2026, HeaderName, "=?base64?/w==?="), "Mcp-Name"},
	{"sentinel-looking name sent plain", Rev20260728, req2026("tools/call", "=?base64?literal?="),
		with(base2026, HeaderName, "=?base64?literal?="), "Mcp-Name"},
	{"upper-case sentinel is not decoded", Rev20260728, world2026, with(base2026, HeaderName, "=?BASE64?SGVsbG8sIOS4lueVjA==?="), "Mcp-Name"},
	{"Mcp-Name on tools/list", Rev20260728, req2026("tools/list", ""), with(ok2026("tools/list", ""), HeaderName, "x"), "Mcp-Name"},
	{"Mcp-Name on a notification", Rev20260728, notif2026,
		hdrs{HeaderProtocolVersion: {"2026-07-28"}, HeaderName: {"x"}}, "Mcp-Name"},
}

func TestCheckHeaders(t *testing.T) {
	for _, tc := range append(append([]headerCase(nil), headersOK...), headersMismatch...) {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHeaders(tc.rev, tc.msg, tc.h)
			if tc.header == "" {
				if err != nil {
					t.Errorf("CheckHeaders(%s, %+v, %v) = %v; want nil", tc.rev, tc.msg, tc.h, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeHeaderMismatch || e.Msg != msgHeader+": "+tc.header || string(e.ID) != string(tc.msg.ID) {
				t.Errorf("CheckHeaders(%s, %+v, %v) = %v; want code %d for %s with id %s",
					tc.rev, tc.msg, tc.h, err, CodeHeaderMismatch, tc.header, tc.msg.ID)
			}
		})
	}
}

func TestSelectRevision(t *testing.T) {
	initialize := func(v string) *Message {
		return &Message{Kind: KindRequest, Method: "initialize", ID: json.RawMessage("0"), ProtocolVersion: v}
	}
	meta := func(v string) *Message {
		return &Message{Kind: KindRequest, Method: "tools/list", ID: json.RawMessage("1"), MetaProtocolVersion: v}
	}
	plain := &Message{Kind: KindRequest, Method: "tools/list", ID: json.RawMessage("1")}
	for _, tc := range []struct {
		name   string
		header string
		msg    *Message
		want   Revision
		code   int
	}{
		{"header decides", "2025-06-18", plain, Rev20250618, 0},
		{"header with a matching _meta", "2026-07-28", meta("2026-07-28"), Rev20260728, 0},
		{"header without a body", "2025-11-25", nil, Rev20251125, 0},
		{"unsupported header", "2025-03-26", plain, "", CodeUnsupportedVersion},
		{"unknown header", "9999-01-01", plain, "", CodeUnsupportedVersion},
		{"header differs from _meta", "2025-11-25", meta("2026-07-28"), "", CodeHeaderMismatch},
		{"initialize asks for a supported revision", "", initialize("2025-06-18"), Rev20250618, 0},
		{"initialize asks for an unsupported revision", "", initialize("2024-11-05"), Rev20251125, 0},
		{"initialize asks for the stateless revision", "", initialize("2026-07-28"), Rev20251125, 0},
		{"_meta without header", "", meta("2026-07-28"), Rev20260728, 0},
		{"unsupported _meta without header", "", meta("2027-01-01"), "", CodeUnsupportedVersion},
		{"no header, no hint", "", plain, "", CodeUnsupportedVersion},
		{"no header, no body", "", nil, "", CodeUnsupportedVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SelectRevision(tc.header, tc.msg)
			if tc.code == 0 {
				if err != nil || got != tc.want {
					t.Errorf("SelectRevision(%q, %+v) = %q, %v; want %q", tc.header, tc.msg, got, err, tc.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("SelectRevision(%q, %+v) = %q, %v; want code %d", tc.header, tc.msg, got, err, tc.code)
			}
			if tc.msg != nil && string(e.ID) != string(tc.msg.ID) {
				t.Errorf("SelectRevision(%q, %+v) error id = %s; want %s", tc.header, tc.msg, e.ID, tc.msg.ID)
			}
		})
	}
}
