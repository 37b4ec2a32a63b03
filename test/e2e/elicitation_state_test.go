package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// statelessCall is a 2026-07-28 tools/call of search_issues by a client
// declaring URL elicitation, with state echoed when it is not empty.
func statelessCall(state string) []byte {
	params := map[string]any{"name": "search_issues", "arguments": mailSearchArgs,
		"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": "2026-07-28",
			"io.modelcontextprotocol/clientCapabilities": map[string]any{
				"elicitation": map[string]any{"url": map[string]any{}}}}}
	if state != "" {
		params["requestState"] = state
		params["inputResponses"] = map[string]any{"connect_mail": map[string]any{"action": "accept"}}
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params})
	return b
}

// postMCP sends one raw MCP POST through the gate as auth's client and
// returns the status and body.
func postMCP(t *testing.T, s *mcpharness.Stack, auth mcpharness.Auth, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, s.Endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", "search_issues")
	resp, err := (&http.Client{Transport: &mcpharness.Transport{Auth: auth}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(out)
}

// TestElicitationTamperedRequestState20260728: a requestState of ours that
// was altered on the wire, or replayed by another user, is refused with
// invalid_request_state, and nothing reaches the upstream; the untouched
// state of the same user only leads to a fresh elicitation (it is never
// authority by itself: alice has still not connected).
func TestElicitationTamperedRequestState20260728(t *testing.T) {
	s, log := connectStack(t, connectStackConfig(t, "", ""), true)
	alice := bearer(t, "alice", "admin")
	code, body := postMCP(t, s, alice, statelessCall(""))
	var first struct {
		Result struct {
			ResultType   string `json:"resultType"`
			RequestState string `json:"requestState"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &first); err != nil || code != 200 || first.Result.ResultType != "input_required" {
		t.Fatalf("first call: %d %s (%v)", code, body, err)
	}
	state := first.Result.RequestState
	for _, tc := range []struct {
		name  string
		auth  mcpharness.Auth
		state string
		want  string
	}{
		{"ciphertext bit flipped", alice, flipStateBit(t, state), "deny invalid_request_state"},
		{"truncated", alice, state[:len(state)-4], "deny invalid_request_state"},
		{"another user's state", bearer(t, "bob", "admin"), state, "deny invalid_request_state"},
		{"untouched, still not connected", alice, state, "deny connection_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postMCP(t, s, tc.auth, statelessCall(tc.state))
			if !log.has("POST " + tc.want) {
				t.Fatalf("no %q among the checks %v (answer %d %s)", tc.want, log.entries, code, body)
			}
			if strings.Contains(body, `"resultType":"complete"`) {
				t.Fatalf("answered as if allowed: %s", body)
			}
			if calls := s.Upstream.Calls(); len(calls) != 0 {
				t.Fatalf("upstream was called: %v", calls)
			}
			log.reset()
		})
	}
}

// flipStateBit flips one bit inside the sealed part of a requestState
// (after its "mcp-authz.1." prefix), keeping it valid base64url.
func flipStateBit(t *testing.T, state string) string {
	t.Helper()
	i := strings.LastIndex(state, ".")
	raw, err := base64.RawURLEncoding.DecodeString(state[i+1:])
	if err != nil || len(raw) < 20 {
		t.Fatalf("requestState %q is not prefix.base64url(sealed): %v", state, err)
	}
	raw[len(raw)/2] ^= 0x01
	return state[:i+1] + base64.RawURLEncoding.EncodeToString(raw)
}

// reset forgets the recorded checks.
func (l *checkLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}
