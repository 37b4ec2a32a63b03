package mcp

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testLimits are the limits of the table tests unless a row sets its own.
var testLimits = Limits{MaxBytes: 64 << 10, MaxDepth: 16}

// parseCase is one behaviour of Parse. A zero code means success, with want
// the expected Message; otherwise the error's code, message and raw id.
type parseCase struct {
	name string
	body string
	lim  Limits
	want *Message
	code int
	msg  string
	id   string
}

// call builds a tools/call Message with id 1.
func call(tool string, args map[string]any) *Message {
	return &Message{Kind: KindRequest, Method: "tools/call", ID: json.RawMessage("1"), Name: tool, Tool: tool, Arguments: args}
}

var parseOK = []parseCase{
	{name: "tools/call with arguments",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo":"acme/api","limit":5}}}`,
		want: call("search_issues", map[string]any{"repo": "acme/api", "limit": json.Number("5")})},
	{name: "tools/call without arguments",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_repos"}}`,
		want: call("list_repos", nil)},
	{name: "numbers stay exact",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":9007199254740993,"b":1.0,"c":-0,"d":1e400,"e":2.5E-3}}}`,
		want: call("t", map[string]any{"a": json.Number("9007199254740993"), "b": json.Number("1.0"),
			"c": json.Number("-0"), "d": json.Number("1e400"), "e": json.Number("2.5E-3")})},
	{name: "nested values decode like encoding/json",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[],"b":{},"c":[true,false,null,"s",{"d":[1]}]}}}`,
		want: call("t", map[string]any{"a": []any{}, "b": map[string]any{},
			"c": []any{true, false, nil, "s", map[string]any{"d": []any{json.Number("1")}}}})},
	{name: "string escapes are decoded",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u0000"}}}`,
		want: call("t", map[string]any{"s": "\"\\/\b\f\n\r\té😀\x00"})},
	{name: "escaped member name is the member",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"t"}}`,
		want: call("t", nil)},
	{name: "members in any order",
		body: `{"params":{"arguments":{"x":"y"},"name":"t"},"id":1,"method":"tools/call","jsonrpc":"2.0"}`,
		want: call("t", map[string]any{"x": "y"})},
	{name: "whitespace everywhere",
		body: " \r\n\t{ \"jsonrpc\" : \"2.0\" ,\n\"id\" :1 , \"method\":\"tools/call\",\"params\":{ \"name\" : \"t\" , \"arguments\" : { } } } \n",
		want: call("t", map[string]any{})},
	{name: "sharp s and ss do not fold together",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"ß":1,"ss":2}}}`,
		want: call("t", map[string]any{"ß": json.Number("1"), "ss": json.Number("2")})},
	{name: "many distinct members",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{` + manyMembers(40, "k") + `}}}`,
		want: call("t", manyArgs(40, "k"))},
	{name: "nesting at the depth limit", lim: Limits{MaxDepth: 4},
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[1]}}}`,
		want: call("t", map[string]any{"a": []any{json.Number("1")}})},
	{name: "notification has no id",
		body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		want: &Message{Kind: KindNotification, Method: "notifications/initialized"}},
	{name: "request without params",
		body: `{"jsonrpc":"2.0","id":8,"method":"ping"}`,
		want: &Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage("8")}},
	{name: "unknown method is parsed", // the policy denies it
		body: `{"jsonrpc":"2.0","id":8,"method":"tools/delete","params":{}}`,
		want: &Message{Kind: KindRequest, Method: "tools/delete", ID: json.RawMessage("8")}},
	{name: "string id kept byte-exact",
		body: `{"jsonrpc":"2.0","id":"a\u0062c","method":"ping"}`,
		want: &Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage(`"a\u0062c"`)}},
	{name: "big integer id kept byte-exact",
		body: `{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`,
		want: &Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage("9007199254740993")}},
	{name: "largest integer id kept byte-exact",
		body: `{"jsonrpc":"2.0","id":9223372036854775807,"method":"ping"}`,
		want: &Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage("9223372036854775807")}},
	{name: "smallest integer id kept byte-exact",
		body: `{"jsonrpc":"2.0","id":-9223372036854775807,"method":"ping"}`,
		want: &Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage("-9223372036854775807")}},
	{name: "negative zero id kept byte-exact",
		body: `{"jsonrpc":"2.0","id":-0,"method":"ping"}`,
		want: &Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage("-0")}},
	{name: "string id that looks like a fraction",
		body: `{"jsonrpc":"2.0","id":"1.5","method":"ping"}`,
		want: &Message{Kind: KindRequest, Method: "ping", ID: json.RawMessage(`"1.5"`)}},
	{name: "resources/read names the uri",
		body: `{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///docs/readme.md"}}`,
		want: &Message{Kind: KindRequest, Method: "resources/read", ID: json.RawMessage("5"), Name: "file:///docs/readme.md"}},
	{name: "resources/subscribe names the uri",
		body: `{"jsonrpc":"2.0","id":5,"method":"resources/subscribe","params":{"uri":"file:///a"}}`,
		want: &Message{Kind: KindRequest, Method: "resources/subscribe", ID: json.RawMessage("5"), Name: "file:///a"}},
	{name: "prompts/get names the prompt and its arguments",
		body: `{"jsonrpc":"2.0","id":7,"method":"prompts/get","params":{"name":"summarize","arguments":{"topic":"q3"}}}`,
		want: &Message{Kind: KindRequest, Method: "prompts/get", ID: json.RawMessage("7"), Name: "summarize",
			Arguments: map[string]any{"topic": "q3"}}},
	{name: "initialize carries its protocol version",
		body: `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
		want: &Message{Kind: KindRequest, Method: "initialize", ID: json.RawMessage("0"), ProtocolVersion: "2025-11-25"}},
	{name: "_meta protocol version is read",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":3}}}`,
		want: &Message{Kind: KindRequest, Method: "tools/call", ID: json.RawMessage("1"), Name: "t", Tool: "t", MetaProtocolVersion: "2026-07-28"}},
	{name: "result response",
		body: `{"jsonrpc":"2.0","id":3,"result":{"content":[]}}`,
		want: &Message{Kind: KindResponse, ID: json.RawMessage("3")}},
	{name: "error response",
		body: `{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"Method not found","data":{"m":1}}}`,
		want: &Message{Kind: KindResponse, ID: json.RawMessage(`"x"`)}},
	{name: "error response with null id",
		body: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
		want: &Message{Kind: KindResponse}},
	{name: "error response without id",
		body: `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}`,
		want: &Message{Kind: KindResponse}},
}

var parseSyntax = []parseCase{
	{name: "empty body", body: ``},
	{name: "only whitespace", body: " \n\t "},
	{name: "truncated object", body: `{"jsonrpc":"2.0","id":1,"method":"ping"`},
	{name: "truncated member name", body: `{"jsonrpc`},
	{name: "missing colon", body: `{"jsonrpc" "2.0"}`},
	{name: "trailing comma in object", body: `{"jsonrpc":"2.0","id":1,"method":"ping",}`},
	{name: "trailing comma in array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[1,]}}}`},
	{name: "unterminated array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[1,2}}}`},
	{name: "second value after the message", body: `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}`},
	{name: "trailing garbage", body: `{"jsonrpc":"2.0","id":1,"method":"ping"} x`},
	{name: "trailing NUL byte", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\x00"},
	{name: "byte order mark", body: "\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"},
	{name: "comment", body: `{"jsonrpc":"2.0","id":1,"method":"ping"} // hi`},
	{name: "single quotes", body: `{'jsonrpc':'2.0','id':1,'method':'ping'}`},
	{name: "unquoted member name", body: `{jsonrpc:"2.0"}`},
	{name: "invalid UTF-8 in a value", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"t\xff\"}}"},
	{name: "invalid UTF-8 in a member name", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"t\",\"arguments\":{\"a\xc3\":1}}}"},
	{name: "overlong UTF-8", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"\xc0\xaf\"}}"},
	{name: "UTF-8 encoded surrogate", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"\xed\xa0\x80\"}}"},
	{name: "invalid UTF-8 outside strings", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\xa0"},
	{name: "lone high surrogate", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800x"}}`},
	{name: "lone high surrogate at end of string", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800"}}`},
	{name: "high surrogate before a non-surrogate escape", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800\u0041"}}`},
	{name: "two high surrogates", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800\udbff"}}`},
	{name: "lone low surrogate", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\udc00"}}`},
	{name: "lone surrogate in a member name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"\udfff":1}}}`},
	{name: "raw control character in a string", body: "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\nb\"}}"},
	{name: "invalid escape", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\x41"}}`},
	{name: "short unicode escape", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u12"}}`},
	{name: "non-hex unicode escape", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u12g4"}}`},
	{name: "leading zero", body: `{"jsonrpc":"2.0","id":01,"method":"ping"}`},
	{name: "plus sign", body: `{"jsonrpc":"2.0","id":+1,"method":"ping"}`},
	{name: "bare decimal point", body: `{"jsonrpc":"2.0","id":1.,"method":"ping"}`},
	{name: "leading decimal point", body: `{"jsonrpc":"2.0","id":.5,"method":"ping"}`},
	{name: "empty exponent", body: `{"jsonrpc":"2.0","id":1e,"method":"ping"}`},
	{name: "lone minus", body: `{"jsonrpc":"2.0","id":-,"method":"ping"}`},
	{name: "NaN", body: `{"jsonrpc":"2.0","id":NaN,"method":"ping"}`},
	{name: "Infinity", body: `{"jsonrpc":"2.0","id":Infinity,"method":"ping"}`},
	{name: "bad literal", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":tru}}}`},
	{name: "syntax error wins over a duplicate member", body: `{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"ping"}x`},
	{name: "syntax error inside a batch", body: `[{"jsonrpc":"2.0","id":1,"method":"ping"},]`},
}

var parseInvalid = []parseCase{
	{name: "huge exponent in arguments", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"limit":1e999999}}}`, msg: msgNumber, id: "1"},
	{name: "huge negative exponent", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"x":[1E-401]}}}`, msg: msgNumber, id: "1"},
	{name: "number literal too long", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"x":0.` + strings.Repeat("1", 70) + `}}}`, msg: msgNumber, id: "1"},
	{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}]`, msg: msgBatch},
	{name: "empty batch", body: `[]`, msg: msgBatch},
	{name: "top-level string", body: `"tools/call"`, msg: msgNotObject},
	{name: "top-level number", body: `1`, msg: msgNotObject},
	{name: "top-level null", body: `null`, msg: msgNotObject},
	{name: "jsonrpc missing", body: `{"id":1,"method":"ping"}`, msg: msgVersion, id: "1"},
	{name: "jsonrpc 1.0", body: `{"jsonrpc":"1.0","id":1,"method":"ping"}`, msg: msgVersion, id: "1"},
	{name: "jsonrpc a number", body: `{"jsonrpc":2.0,"id":1,"method":"ping"}`, msg: msgVersion, id: "1"},
	{name: "duplicate method", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"t"}}`, msg: msgDuplicate, id: "1"},
	{name: "duplicate id leaves the id null", body: `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, msg: msgDuplicate},
	{name: "duplicate tool name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_issues","name":"delete_repo"}}`, msg: msgDuplicate, id: "1"},
	{name: "duplicate argument", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"repo":"a","repo":"b"}}}`, msg: msgDuplicate, id: "1"},
	{name: "duplicate deep in the arguments", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[{"b":{"c":1,"c":2}}]}}}`, msg: msgDuplicate, id: "1"},
	{name: "duplicate after unescaping", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","n\u0061me":"u"}}`, msg: msgDuplicate, id: "1"},
	{name: "duplicate in a skipped subtree", body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"x":{"y":1,"y":2}}}}`, msg: msgDuplicate, id: "1"},
	{name: "duplicate in a result", body: `{"jsonrpc":"2.0","id":1,"result":{"a":1,"a":2}}`, msg: msgDuplicate, id: "1"},
	{name: "duplicate in a large object", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{` + manyMembers(40, "k") + `,"k7":0}}}`, msg: msgDuplicate, id: "1"},
	{name: "case-folded arguments", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"query":"a","QUERY":"b"}}}`, msg: msgFoldDuplicate, id: "1"},
	{name: "long s folds to s", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"s":1,"ſ":2}}}`, msg: msgFoldDuplicate, id: "1"},
	{name: "Kelvin sign folds to k", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"\u212a":1,"k":2}}}`, msg: msgFoldDuplicate, id: "1"},
	{name: "case fold in a large object", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{` + manyMembers(40, "k") + `,"K39":0}}}`, msg: msgFoldDuplicate, id: "1"},
	{name: "case fold in a result", body: `{"jsonrpc":"2.0","id":1,"result":{"Content":1,"content":2}}`, msg: msgFoldDuplicate, id: "1"},
	{name: "Method alone", body: `{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"t"}}`, msg: msgFoldKnown, id: "1"},
	{name: "PARAMS alone", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","PARAMS":{"name":"t"}}`, msg: msgFoldKnown, id: "1"},
	{name: "params with long s", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{"name":"t"}}`, msg: msgFoldKnown, id: "1"},
	{name: "escaped case-folded member", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","p\u0041rams":{"name":"t"}}`, msg: msgFoldKnown, id: "1"},
	{name: "ID alone leaves the id null", body: `{"jsonrpc":"2.0","ID":1,"method":"ping"}`, msg: msgFoldKnown},
	{name: "Name in params", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"t"}}`, msg: msgFoldKnown, id: "1"},
	{name: "ARGUMENTS in params", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","ARGUMENTS":{}}}`, msg: msgFoldKnown, id: "1"},
	{name: "case-folded _meta protocol version", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"IO.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, msg: msgFoldKnown, id: "1"},
	{name: "case-folded error code", body: `{"jsonrpc":"2.0","id":1,"error":{"Code":1,"message":"m"}}`, msg: msgFoldKnown, id: "1"},
	{name: "__proto__ in the arguments", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"__proto__":{"admin":true}}}}`, msg: msgProto, id: "1"},
	{name: "escaped __proto__", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"__proto\u005f_":{}}}}`, msg: msgProto, id: "1"},
	{name: "unknown top-level member", body: `{"jsonrpc":"2.0","id":1,"method":"ping","extra":true}`, msg: msgUnknownMember, id: "1"},
	{name: "null id on a request", body: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, msg: msgIDType},
	{name: "boolean id", body: `{"jsonrpc":"2.0","id":true,"method":"ping"}`, msg: msgIDType},
	{name: "object id", body: `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, msg: msgIDType},
	{name: "array id", body: `{"jsonrpc":"2.0","id":[1],"method":"ping"}`, msg: msgIDType},
	{name: "fractional id", body: `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, msg: msgIDType},
	{name: "integral fraction id", body: `{"jsonrpc":"2.0","id":1.0,"method":"ping"}`, msg: msgIDType},
	{name: "exponent id", body: `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, msg: msgIDType},
	{name: "upper-case exponent id", body: `{"jsonrpc":"2.0","id":1E+3,"method":"ping"}`, msg: msgIDType},
	{name: "huge exponent id", body: `{"jsonrpc":"2.0","id":1e400,"method":"ping"}`, msg: msgIDType},
	{name: "negative exponent id", body: `{"jsonrpc":"2.0","id":-5e-1,"method":"ping"}`, msg: msgIDType},
	{name: "id 2^63", body: `{"jsonrpc":"2.0","id":9223372036854775808,"method":"ping"}`, msg: msgIDType},
	{name: "id -2^63", body: `{"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"}`, msg: msgIDType},
	{name: "id of 20 digits", body: `{"jsonrpc":"2.0","id":10000000000000000000,"method":"ping"}`, msg: msgIDType},
	{name: "fractional id on a notification-shaped tools/call", body: `{"jsonrpc":"2.0","id":0.5,"method":"tools/call","params":{"name":"t"}}`, msg: msgIDType},
	{name: "fractional id on a result", body: `{"jsonrpc":"2.0","id":2.5,"result":{}}`, msg: msgIDType},
	{name: "fractional id on an error response", body: `{"jsonrpc":"2.0","id":2.5,"error":{"code":1,"message":"m"}}`, msg: msgIDType},
	{name: "fractional id beside another invalid member", body: `{"jsonrpc":"2.0","id":1.5,"method":"ping","extra":1}`, msg: msgUnknownMember},
	{name: "method not a string", body: `{"jsonrpc":"2.0","id":1,"method":7}`, msg: msgMethodType, id: "1"},
	{name: "request with a result", body: `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, msg: msgMixed, id: "1"},
	{name: "no method, result or error", body: `{"jsonrpc":"2.0","id":1}`, msg: msgNoMethod, id: "1"},
	{name: "result and error", body: `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}`, msg: msgResultAndError, id: "1"},
	{name: "result without id", body: `{"jsonrpc":"2.0","result":{}}`, msg: msgResponseID},
	{name: "result with null id", body: `{"jsonrpc":"2.0","id":null,"result":{}}`, msg: msgIDType},
	{name: "response with params", body: `{"jsonrpc":"2.0","id":1,"result":{},"params":{}}`, msg: msgResponseParams, id: "1"},
	{name: "error not an object", body: `{"jsonrpc":"2.0","id":1,"error":"boom"}`, msg: msgErrorObject, id: "1"},
	{name: "error code not an integer", body: `{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}`, msg: msgErrorObject, id: "1"},
	{name: "error without message", body: `{"jsonrpc":"2.0","id":1,"error":{"code":1}}`, msg: msgErrorObject, id: "1"},
	{name: "params a string", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"t"}`, msg: msgParamsType, id: "1"},
	{name: "params null", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}`, msg: msgParamsType, id: "1"},
	{name: "nesting beyond the depth limit", lim: Limits{MaxDepth: 4},
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":[[1]]}}}`, msg: msgTooDeep},
	{name: "deep batch", lim: Limits{MaxDepth: 4}, body: strings.Repeat("[", 100000), msg: msgTooDeep},
	{name: "body over the size limit", lim: Limits{MaxBytes: 16}, body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, msg: msgTooLarge},
}

var parseInvalidParams = []parseCase{
	{name: "params an array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["t"]}`, msg: msgParamsArray, id: "1"},
	{name: "tools/call without params", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, msg: msgParamsMissing, id: "1"},
	{name: "tools/call without name", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}`, msg: msgName, id: "1"},
	{name: "tools/call name a number", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}`, msg: msgName, id: "1"},
	{name: "tools/call arguments an array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":[1]}}`, msg: msgArguments, id: "1"},
	{name: "tools/call arguments null", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":null}}`, msg: msgArguments, id: "1"},
	{name: "tools/call arguments a string", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":"{}"}}`, msg: msgArguments, id: "1"},
	{name: "tools/call notification is checked too", body: `{"jsonrpc":"2.0","method":"tools/call","params":{}}`, msg: msgName},
	{name: "prompts/get without name", body: `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{}}`, msg: msgName, id: "1"},
	{name: "resources/read without uri", body: `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}`, msg: msgURI, id: "1"},
	{name: "resources/read uri a number", body: `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":1}}`, msg: msgURI, id: "1"},
	{name: "resources/unsubscribe without params", body: `{"jsonrpc":"2.0","id":1,"method":"resources/unsubscribe"}`, msg: msgParamsMissing, id: "1"},
	{name: "initialize without protocol version", body: `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}}`, msg: msgInitVersion, id: "0"},
	{name: "_meta not an object", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":[]}}`, msg: msgMeta, id: "1"},
	{name: "_meta protocol version a number", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}}`, msg: msgMetaVersion, id: "1"},
}

// allParseCases returns every table row with its expected code filled in.
func allParseCases() []parseCase {
	var all []parseCase
	all = append(all, parseOK...)
	for _, group := range []struct {
		code  int
		cases []parseCase
	}{{CodeParseError, parseSyntax}, {CodeInvalidRequest, parseInvalid}, {CodeInvalidParams, parseInvalidParams}} {
		for _, c := range group.cases {
			c.code = group.code
			if c.code == CodeParseError {
				c.msg = msgParse
			}
			all = append(all, c)
		}
	}
	return all
}

func TestParse(t *testing.T) {
	for _, tc := range allParseCases() {
		t.Run(tc.name, func(t *testing.T) {
			lim := tc.lim
			if lim == (Limits{}) {
				lim = testLimits
			}
			got, err := Parse([]byte(tc.body), lim)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("Parse(%q) = %v; want success", tc.body, err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.body, diff)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %v, %v; want *Error code %d", tc.body, got, err, tc.code)
			}
			if e.Code != tc.code || e.Msg != tc.msg || string(e.ID) != tc.id {
				t.Errorf("Parse(%q) = code %d msg %q id %q (%v); want code %d msg %q id %q",
					tc.body, e.Code, e.Msg, e.ID, err, tc.code, tc.msg, tc.id)
			}
		})
	}
}

func TestParseTooLargeIsErrTooLarge(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if _, err := Parse(body, Limits{MaxBytes: len(body) - 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(%d bytes, MaxBytes %d) = %v; want ErrTooLarge", len(body), len(body)-1, err)
	}
	if _, err := Parse(body, Limits{MaxBytes: len(body)}); err != nil {
		t.Errorf("Parse(%d bytes, MaxBytes %d) = %v; want success", len(body), len(body), err)
	}
}

func TestParseMaxNumbers(t *testing.T) {
	body := func(n int) []byte {
		return []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"x":[` +
			strings.TrimSuffix(strings.Repeat("1,", n), ",") + `]}}}`)
	}
	if _, err := Parse(body(10), Limits{MaxNumbers: 11}); err != nil { // 10 in arguments + the id
		t.Errorf("Parse(11 numbers, limit 11) = %v; want nil", err)
	}
	_, err := Parse(body(11), Limits{MaxNumbers: 11})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidRequest || e.Msg != msgNumber || string(e.ID) != "1" {
		t.Errorf("Parse(12 numbers, limit 11) = %v; want -32600 %q with id 1", err, msgNumber)
	}
	if _, err := Parse(body(DefaultMaxNumbers), Limits{}); err == nil {
		t.Errorf("Parse(%d+1 numbers, default limit) = nil; want an error", DefaultMaxNumbers)
	}
}

func TestParseZeroLimitsUseDefaults(t *testing.T) {
	deep := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":` +
		strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth) + `}}}`
	_, err := Parse([]byte(deep), Limits{})
	var e *Error
	if !errors.As(err, &e) || e.Msg != msgTooDeep {
		t.Errorf("Parse(depth %d, zero Limits) = %v; want %q", DefaultMaxDepth+3, err, msgTooDeep)
	}
	big := make([]byte, DefaultMaxBytes+1)
	if _, err := Parse(big, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(%d bytes, zero Limits) = %v; want ErrTooLarge", len(big), err)
	}
}

func TestParseIDIsACopy(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","id":12,"method":"ping"}`)
	msg, err := Parse(body, testLimits)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", body, err)
	}
	copy(body, strings.Repeat("x", len(body)))
	if string(msg.ID) != "12" {
		t.Errorf("after overwriting the body, ID = %q; want %q", msg.ID, "12")
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{"without cause", &Error{Code: CodeInvalidRequest, Msg: msgBatch}, "mcp: " + msgBatch},
		{"with cause", &Error{Code: CodeParseError, Msg: msgParse, Cause: errors.New("offset 3")}, "mcp: Parse error: offset 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q; want %q", got, tc.want)
			}
		})
	}
}

// manyMembers returns n distinct members "<prefix>0":0, ... as JSON.
func manyMembers(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + prefix + strconv.Itoa(i) + `":` + strconv.Itoa(i))
	}
	return b.String()
}

// manyArgs is the decoded form of manyMembers.
func manyArgs(n int, prefix string) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[prefix+strconv.Itoa(i)] = json.Number(strconv.Itoa(i))
	}
	return m
}
