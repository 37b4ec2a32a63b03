package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

const searchDef = `{"name":"search_issues","description":"Search issues.","inputSchema":{"type":"object"}}`

func newTestServer(t testing.TB, j *fakeJudge) *Server {
	if j.reg == nil {
		j.reg = testRegistry(t, searchDef)
	}
	return New(Options{MaxBodyBytes: 1 << 16}, j, nil)
}

func headers(kv ...string) *extprocv3.HttpHeaders {
	hm := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return &extprocv3.HttpHeaders{Headers: hm}
}

// TestResponseHeaders: the body mode follows the content type; what cannot
// be inspected is answered locally.
func TestResponseHeaders(t *testing.T) {
	tests := []struct {
		name      string
		handoff   bool
		h         *extprocv3.HttpHeaders
		mode      extprocfilterv3.ProcessingMode_BodySendMode
		immediate string // reason of a local reply
	}{
		{"json buffered", true, headers(":status", "200", "content-type", "application/json; charset=utf-8"), extprocfilterv3.ProcessingMode_BUFFERED, ""},
		{"sse streamed", true, headers(":status", "200", "Content-Type", "text/event-stream"), extprocfilterv3.ProcessingMode_STREAMED, ""},
		{"other passes", true, headers(":status", "202"), extprocfilterv3.ProcessingMode_NONE, ""},
		{"json without handoff", false, headers("content-type", "application/json"), 0, "no_handoff"},
		{"other without handoff passes", false, headers("content-type", "text/plain"), extprocfilterv3.ProcessingMode_NONE, ""},
		{"gzip refused", true, headers("content-type", "application/json", "content-encoding", "gzip"), 0, "unsupported_content_encoding"},
		{"identity encoding fine", true, headers("content-type", "application/json", "content-encoding", "identity"), extprocfilterv3.ProcessingMode_BUFFERED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, &fakeJudge{})
			ex := &exchange{}
			if tt.handoff {
				ex.load(handoffMD(t, "tools/list", "1", "2025-06-18"))
			}
			resp := s.responseHeaders(context.Background(), ex, tt.h)
			if im := resp.GetImmediateResponse(); im != nil || tt.immediate != "" {
				if !bytes.Contains(im.GetBody(), []byte(`"reason":"`+tt.immediate+`"`)) {
					t.Fatalf("immediate response %s; want reason %q", im.GetBody(), tt.immediate)
				}
				return
			}
			if got := resp.GetModeOverride().GetResponseBodyMode(); got != tt.mode {
				t.Errorf("mode_override body mode %v; want %v", got, tt.mode)
			}
		})
	}
}

// TestMessage covers the verdict on single JSON-RPC messages of a
// tools/list exchange (id 1).
func TestMessage(t *testing.T) {
	list := `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + searchDef + `,{"name":"drop_tables"}],"nextCursor":"n"}}`
	tests := []struct {
		name   string
		msg    string
		action action
		reason string
		want   string // substring of the replacement
	}{
		{"notification passes", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`, actPass, "", ""},
		{"server request passes", `{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}`, actPass, "", ""},
		{"error response passes", `{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}`, actPass, "", ""},
		{"list filtered", list, actReplace, "", `"tools":[` + searchDef + `]`},
		{"cursor kept", list, actReplace, "", `"nextCursor":"n"`},
		{"other id dropped", strings.Replace(list, `"id":1`, `"id":2`, 1), actDrop, "unexpected_response", ""},
		{"string id is another id", strings.Replace(list, `"id":1`, `"id":"1"`, 1), actDrop, "unexpected_response", ""},
		{"not json", `{"jsonrpc":"2.0","id":1,"result":`, actReplace, "invalid_response", `"reason":"invalid_response"`},
		{"duplicate member", `{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[]}}`, actReplace, "invalid_response", ""},
		{"batch", `[` + list + `]`, actReplace, "invalid_response", ""},
		{"result not object", `{"jsonrpc":"2.0","id":1,"result":[]}`, actReplace, "invalid_response", ""},
		{"tools missing", `{"jsonrpc":"2.0","id":1,"result":{}}`, actReplace, "invalid_response", ""},
		{"tool not an object", `{"jsonrpc":"2.0","id":1,"result":{"tools":[1]}}`, actReplace, "", `"tools":[]`},
		{"drifted tool removed", strings.Replace(list, `Search issues.`, `Search issues!`, 1), actReplace, "", `"tools":[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, &fakeJudge{})
			ex := &exchange{}
			ex.load(handoffMD(t, "tools/list", "1", "2025-06-18"))
			v := s.message(context.Background(), ex, []byte(tt.msg))
			if v.action != tt.action || v.reason != tt.reason {
				t.Fatalf("message(%.80s) = action %d reason %q; want %d %q", tt.msg, v.action, v.reason, tt.action, tt.reason)
			}
			if tt.want != "" && !bytes.Contains(v.data, []byte(tt.want)) {
				t.Errorf("replacement %s; want it to contain %s", v.data, tt.want)
			}
		})
	}
}

// TestListCacheScope: a 2026-07-28 list filtered for one principal is
// marked private; older revisions get no new member.
func TestListCacheScope(t *testing.T) {
	for rev, want := range map[string]bool{"2026-07-28": true, "2025-11-25": false} {
		s := newTestServer(t, &fakeJudge{})
		ex := &exchange{}
		ex.load(handoffMD(t, "prompts/list", "3", rev))
		v := s.message(context.Background(), ex, []byte(`{"jsonrpc":"2.0","id":3,"result":{"prompts":[{"name":"a"}],"ttlMs":0,"cacheScope":"public"}}`))
		if got := bytes.Contains(v.data, []byte(`"cacheScope":"private"`)); got != want {
			t.Errorf("revision %s: %s; cacheScope private %v, want %v", rev, v.data, got, want)
		}
	}
}

// TestListPolicyFailure: a failed evaluation never lets the list through.
func TestListPolicyFailure(t *testing.T) {
	s := newTestServer(t, &fakeJudge{err: denial.New(denial.PolicyError, errors.New("boom"))})
	ex := &exchange{}
	ex.load(handoffMD(t, "tools/list", "1", "2025-06-18"))
	v := s.message(context.Background(), ex, []byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[`+searchDef+`]}}`))
	if v.action != actReplace || v.reason != "policy_error" || bytes.Contains(v.data, []byte("search_issues")) {
		t.Errorf("verdict %d %q %s; want a policy_error replacement without the tool", v.action, v.reason, v.data)
	}
}

// TestHandoffUnreadable: a malformed handoff counts as none.
func TestHandoffUnreadable(t *testing.T) {
	md := handoffMD(t, "tools/list", "1", "2025-06-18")
	md.FilterMetadata[policy.HandoffNamespace].Fields[policy.HandoffKey].Kind = nil
	ex := &exchange{}
	ex.load(md)
	if ex.in != nil {
		t.Fatalf("load(empty handoff) kept an input")
	}
	s := newTestServer(t, &fakeJudge{})
	if im := s.responseHeaders(context.Background(), ex, headers("content-type", "application/json")).GetImmediateResponse(); im == nil {
		t.Errorf("JSON response with an unreadable handoff passed; want a local error")
	}
}

// sseThrough runs an SSE body through the processor in the given chunks
// and returns the concatenated output.
func sseThrough(t testing.TB, s *Server, body []byte, cuts []int) []byte {
	ex := &exchange{}
	ex.load(handoffMD(t, "tools/list", "1", "2025-06-18"))
	ex.mode, ex.sse = modeSSE, mcp.NewSSEReader(s.opts.MaxBodyBytes)
	var out []byte
	prev := 0
	cuts = append(cuts, len(body))
	for i, c := range cuts {
		out = append(out, s.sseChunk(context.Background(), ex, body[prev:c], i == len(cuts)-1)...)
		prev = c
	}
	return out
}

// FuzzSSEProcessorChunking: whatever the chunking, the processed stream
// equals the processed unchunked stream; it is made of whole events only,
// and every event the processor rewrote carries JSON.
func FuzzSSEProcessorChunking(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sse")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(3), uint16(40), uint16(41))
	}
	s := newTestServer(f, &fakeJudge{deny: map[string]bool{"delete_repo": true}})
	f.Fuzz(func(t *testing.T, body []byte, a, b, c uint16) {
		if len(body) > 1<<14 {
			return
		}
		want := sseThrough(t, s, body, nil)
		cuts := []int{int(a) % (len(body) + 1), int(b) % (len(body) + 1), int(c) % (len(body) + 1)}
		for i := 1; i < len(cuts); i++ {
			cuts[i] = max(cuts[i], cuts[i-1])
		}
		if got := sseThrough(t, s, body, cuts); !bytes.Equal(got, want) {
			t.Fatalf("cut at %v: %q; unchunked: %q", cuts, got, want)
		}
		// The output is whole events only, and every rewritten message is JSON.
		// (A final CR is held as maybe half a CRLF: one more byte settles it.)
		r := mcp.NewSSEReader(len(want) + 2)
		evs, err := r.Feed(want)
		more, err2 := r.Feed([]byte("x"))
		if err != nil || err2 != nil || string(r.Pending()) != "x" {
			t.Fatalf("output %q is not whole events: %v, pending %q", want, err, r.Pending())
		}
		evs = append(evs, more...)
		for _, ev := range evs {
			if ev.IsMessage() && !bytes.Contains(body, ev.Raw) && !json.Valid(ev.Data) {
				t.Fatalf("rewritten event %q is not JSON", ev.Raw)
			}
		}
	})
}

// TestJSONBodyInParts: a JSON body delivered in parts (a streaming data
// plane) is held, nothing passes before the whole message is judged, and
// the judged message goes out with the last part.
func TestJSONBodyInParts(t *testing.T) {
	s := newTestServer(t, &fakeJudge{})
	ex := &exchange{}
	ex.load(handoffMD(t, "tools/list", "1", "2025-06-18"))
	s.responseHeaders(context.Background(), ex, headers("content-type", "application/json"))
	body := []byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[` + searchDef + `,{"name":"drop_tables"}]}}`)
	var out []byte
	for i, part := range [][]byte{body[:10], body[10:50], body[50:]} {
		resp := s.responseBody(context.Background(), ex, &extprocv3.HttpBody{Body: part, EndOfStream: i == 2})
		got := resp.GetResponseBody().GetResponse().GetBodyMutation().GetBody()
		if i < 2 && len(got) != 0 {
			t.Fatalf("part %d passed %q before the body was judged", i, got)
		}
		out = append(out, got...)
	}
	if bytes.Contains(out, []byte("drop_tables")) || !bytes.Contains(out, []byte("search_issues")) {
		t.Errorf("judged body %s; want search_issues only", out)
	}
}
