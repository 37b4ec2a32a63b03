package e2e

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

// roleTools are the tools of policies/data.json's roles on the issues hop.
var roleTools = map[string][]string{
	"admin": {"comment_issue", "create_issue", "delete_repo", "get_issue", "list_repos", "read_file",
		"run_query", "search_issues", "update_issue"},
	"analyst": {"get_issue", "list_repos", "read_file", "run_query", "search_issues"},
	"support": {"comment_issue", "search_issues"},
	"nobody":  nil,
}

// fixtureTools is the fixture server's tools/list: every registry tool as
// approved plus one tool the registry does not know (its description has
// multi-byte UTF-8, so chunks can split a sequence).
func fixtureTools(t *testing.T) map[string]json.RawMessage {
	defs := registryTools(t)
	defs["drop_tables"] = json.RawMessage(`{"name":"drop_tables","description":"Löschen ☠ alles","inputSchema":{"type":"object"}}`)
	return defs
}

// progress is a notification the server sends before its result.
const progress = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t1","progress":1,"message":"héllo € world"}}`

// sseListBody frames a notification and the result as a server streams
// them: the result's JSON split over two data lines, CRLF line endings in
// the notification, and a comment between.
func sseListBody(result []byte) []byte {
	i := bytes.Index(result, []byte(`"result"`))
	var b bytes.Buffer
	b.WriteString("event: message\r\nid: 1\r\ndata: " + progress + "\r\n\r\n")
	b.WriteString(": keep-alive\n\n")
	b.WriteString("event: message\nid: 2\ndata: ")
	b.Write(result[:i])
	b.WriteString("\ndata: ")
	b.Write(result[i:])
	b.WriteString("\n\n")
	return b.Bytes()
}

// awkwardCuts are offsets inside "data:", inside a UTF-8 sequence, between
// a CR and its LF, and inside the blank line ending an event.
func awkwardCuts(body []byte) []int {
	var cuts []int
	for _, needle := range []string{"data:", "€", "☠", "é", "\r\n", "\n\n"} {
		for off := 0; ; {
			i := bytes.Index(body[off:], []byte(needle))
			if i < 0 {
				break
			}
			cuts = append(cuts, off+i+1)
			off += i + 1
		}
	}
	return cuts
}

// TestExtProcToolsListPerRole: for each role, the fixture server's
// tools/list, as JSON and as SSE cut at awkward places, comes back with
// exactly the tools that role may call; the unregistered tool is gone.
func TestExtProcToolsListPerRole(t *testing.T) {
	_, client, conn := startAppConn(t, e2eConfig)
	result := toolsListResult("1", fixtureTools(t))
	for role, want := range roleTools {
		md := allowedCheck(t, client, []string{role}, toolsListBody)
		t.Run(role+"/json", func(t *testing.T) {
			res := process(t, conn, md, upstreamResponse{contentType: "application/json", chunks: [][]byte{result}})
			if res.mode != extprocfilterv3.ProcessingMode_BUFFERED {
				t.Fatalf("JSON body mode %v; want BUFFERED", res.mode)
			}
			if got := res.headers["content-length"]; got != strconv.Itoa(len(res.body)) {
				t.Errorf("content-length %q; want %d, the rewritten body's length", got, len(res.body))
			}
			got, reason := listedNames(t, res.body, "tools")
			if reason != "" || !slices.Equal(got, want) {
				t.Errorf("tools/list as %s = %v (error %q); want %v", role, got, reason, want)
			}
		})
		t.Run(role+"/sse", func(t *testing.T) {
			body := sseListBody(result)
			res := process(t, conn, md, upstreamResponse{contentType: "text/event-stream",
				chunks: cutAt(body, awkwardCuts(body), 97)})
			if res.mode != extprocfilterv3.ProcessingMode_STREAMED {
				t.Fatalf("SSE body mode %v; want STREAMED", res.mode)
			}
			if !slices.Contains(res.removed, "content-length") {
				t.Errorf("SSE response headers: removed %v; want content-length removed (the body changes)", res.removed)
			}
			evs := sseEvents(t, res.body)
			if len(evs) != 3 {
				t.Fatalf("processed SSE has %d events; want 3 (notification, comment, result)", len(evs))
			}
			if !bytes.HasPrefix(res.body, []byte("event: message\r\nid: 1\r\ndata: "+progress+"\r\n\r\n: keep-alive\n\n")) {
				t.Errorf("notification and comment changed: %q", res.body[:min(len(res.body), 200)])
			}
			if evs[2].ID != "2" {
				t.Errorf("result event id %q; want 2 kept", evs[2].ID)
			}
			got, reason := listedNames(t, evs[2].Data, "tools")
			if reason != "" || !slices.Equal(got, want) {
				t.Errorf("SSE tools/list as %s = %v (error %q); want %v", role, got, reason, want)
			}
		})
	}
}

// TestExtProcEveryByteBoundary cuts the SSE tools/list at every offset
// (two chunks) for one role: the filtered result never depends on where
// the network cut the stream.
func TestExtProcEveryByteBoundary(t *testing.T) {
	_, client, conn := startAppConn(t, e2eConfig)
	md := allowedCheck(t, client, []string{"support"}, toolsListBody)
	body := sseListBody(toolsListResult("1", fixtureTools(t)))
	want := process(t, conn, md, upstreamResponse{contentType: "text/event-stream", chunks: [][]byte{body}}).body
	for i := 1; i < len(body); i += 1 + i/400 {
		got := process(t, conn, md, upstreamResponse{contentType: "text/event-stream", chunks: [][]byte{body[:i], body[i:]}}).body
		if !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: output differs from the uncut stream", i)
		}
	}
}

// TestExtProcOtherLists filters prompts/list and resources/list with the
// same rules: a valid caller of the hop sees them; 2026-07-28 results
// filtered per principal carry cacheScope "private".
func TestExtProcOtherLists(t *testing.T) {
	_, client, conn := startAppConn(t, e2eConfig)
	md := allowedCheck(t, client, []string{"support"}, `{"jsonrpc":"2.0","id":4,"method":"prompts/list"}`)
	body := []byte(`{"jsonrpc":"2.0","id":4,"result":{"prompts":[{"name":"triage"},{"name":"summarise"}],"nextCursor":"c2"}}`)
	res := process(t, conn, md, upstreamResponse{contentType: "application/json", chunks: [][]byte{body}})
	got, reason := listedNames(t, res.body, "prompts")
	if reason != "" || !slices.Equal(got, []string{"summarise", "triage"}) {
		t.Errorf("prompts/list = %v (error %q); want both prompts", got, reason)
	}
	if !bytes.Contains(res.body, []byte(`"nextCursor":"c2"`)) {
		t.Errorf("prompts/list lost nextCursor: %s", res.body)
	}
	if bytes.Contains(res.body, []byte("cacheScope")) {
		t.Errorf("2025-06-18 result got cacheScope: %s", res.body)
	}
}

// TestExtProcFailsClosed: what cannot be inspected never reaches the
// client as sent.
func TestExtProcFailsClosed(t *testing.T) {
	_, client, conn := startAppConn(t, e2eConfig)
	md := allowedCheck(t, client, []string{"support"}, toolsListBody)
	list := toolsListResult("1", fixtureTools(t))
	tests := []struct {
		name   string
		md     bool
		up     upstreamResponse
		reason string
	}{
		{"no handoff", false, upstreamResponse{contentType: "application/json", chunks: [][]byte{list}}, "no_handoff"},
		{"compressed", true, upstreamResponse{contentType: "application/json", headers: map[string]string{"content-encoding": "gzip"},
			chunks: [][]byte{list}}, "unsupported_content_encoding"},
		{"not json", true, upstreamResponse{contentType: "application/json", chunks: [][]byte{[]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[`)}}, "invalid_response"},
		{"duplicate member", true, upstreamResponse{contentType: "application/json",
			chunks: [][]byte{[]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"delete_repo"}]}}`)}}, "invalid_response"},
		{"tools not an array", true, upstreamResponse{contentType: "application/json",
			chunks: [][]byte{[]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"delete_repo"}}}`)}}, "invalid_response"},
		{"another id", true, upstreamResponse{contentType: "application/json",
			chunks: [][]byte{bytes.Replace(list, []byte(`"id":1`), []byte(`"id":2`), 1)}}, "unexpected_response"},
		{"sse event over the limit", true, upstreamResponse{contentType: "text/event-stream",
			chunks: cutAt([]byte("data: "+strings.Repeat("x", 5<<20)), nil, 1<<20)}, "response_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := md
			if !tt.md {
				m = nil
			}
			res := process(t, conn, m, tt.up)
			body := res.body
			if res.immediate != nil {
				body = res.immediate.GetBody()
			} else if tt.up.contentType == "text/event-stream" {
				evs := sseEvents(t, body)
				if len(evs) != 1 {
					t.Fatalf("SSE after refusal: %d events; want one error", len(evs))
				}
				body = evs[0].Data
			}
			_, reason := listedNames(t, body, "tools")
			if reason != tt.reason {
				t.Errorf("reason %q; want %q (body %.200s)", reason, tt.reason, body)
			}
			if bytes.Contains(body, []byte("delete_repo")) {
				t.Errorf("refused response still carries a tool: %.200s", body)
			}
		})
	}
}
