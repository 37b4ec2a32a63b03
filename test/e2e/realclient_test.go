package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// registryFile is the default bundle's registry of the issues server: the
// upstream serves exactly these approved manifests.
const registryFile = "../../policies/mcp/servers/issues/data.json"

// checkLog records what the gate asked mcp-authz and what it was told.
type checkLog struct {
	mu      sync.Mutex
	entries []string // "HTTPMETHOD decision reason"
}

func (l *checkLog) observe(req *authv3.CheckRequest, resp *authv3.CheckResponse, err error) {
	d := "error"
	if err == nil {
		d = decision(resp) + " " + reasonOf(resp)
	}
	l.mu.Lock()
	l.entries = append(l.entries, req.GetAttributes().GetRequest().GetHttp().GetMethod()+" "+strings.TrimSpace(d))
	l.mu.Unlock()
}

// has reports whether an entry equal to want was recorded.
func (l *checkLog) has(want string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e == want {
			return true
		}
	}
	return false
}

// realStack starts mcp-authz (e2eConfig, embedded bundle), a go-sdk
// upstream and the gate configured as examples/envoy/envoy.yaml.
func realStack(t *testing.T, stateless bool) (*mcpharness.Stack, *checkLog) {
	t.Helper()
	log := &checkLog{}
	s := mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:   e2eConfig,
		Upstream: mcpharness.UpstreamOptions{RegistryFile: registryFile, Stateless: stateless},
		Gate:     func(c *envoyshim.Config) { c.Observe = log.observe },
	})
	return s, log
}

// minter signs tokens with testdata/keys for the test resource.
func minter(t *testing.T) *mcpharness.Minter {
	return mcpharness.NewMinter(t, "testdata/keys/private.pem", e2eKeyID, e2eIssuer, e2eResource)
}

// bearer is the Auth of a user with roles, through the public host.
func bearer(t *testing.T, sub string, roles ...string) mcpharness.Auth {
	return mcpharness.Auth{Token: minter(t).Mint(t, sub, roles, nil), Host: "mcp.example.test", PublicURL: e2eResource}
}

// testCtx is a bounded context for one test's MCP calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// callText calls a tool and returns its first text content.
func callText(ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any) (string, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", err
	}
	if len(res.Content) == 0 {
		return "", errors.New("no content")
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return "", fmt.Errorf("content %T; want text", res.Content[0])
	}
	return tc.Text, nil
}

// wantPolicyDeny checks that a denied call surfaces our JSON-RPC error
// (-32003 "Forbidden by policy") as the official Go SDK client reports it.
// The Go SDK's internal jsonrpc2 uses -32003 for its own "client is
// closing" error and matches errors by code, so it reports our deny as
// mcp.ErrConnectionClosed with our message in the text (go-sdk v1.8.0);
// the session itself stays usable, which the caller checks next.
func wantPolicyDeny(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: allowed; want denied", what)
		return
	}
	var werr *jsonrpc.Error
	switch {
	case errors.As(err, &werr):
		if werr.Code != -32003 {
			t.Errorf("%s: JSON-RPC error %d %q; want -32003", what, werr.Code, werr.Message)
		}
	case !strings.Contains(err.Error(), "Forbidden by policy"):
		t.Errorf("%s: error %v; want our JSON-RPC error message", what, err)
	}
}

// exerciseSession runs the flow every revision shares: discovery, tools
// per role, resources, prompts and a streamed tool result.
func exerciseSession(t *testing.T, s *mcpharness.Stack, log *checkLog, version string) {
	ctx := testCtx(t)
	alice, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "alice", "admin"), mcpharness.ClientOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("alice connects: %v", err)
	}
	if got := alice.InitializeResult().ProtocolVersion; got != version {
		t.Fatalf("negotiated revision %s; want %s", got, version)
	}
	listTools(ctx, t, alice)
	if text, err := callText(ctx, alice, "create_issue", map[string]any{"repo": "acme/api", "title": "hello"}); err != nil || !strings.HasPrefix(text, "called create_issue") {
		t.Errorf("alice create_issue = %q, %v; want the upstream's answer", text, err)
	}
	readAndPrompt(ctx, t, alice)
	streamed(ctx, t, s, version)
	perRole(ctx, t, s, version)
	if !log.has("POST deny tool_not_allowed") {
		t.Errorf("no tool_not_allowed deny recorded; checks: %v", log.entries)
	}
}

// listTools checks tools/list returns the registry's nine tools.
func listTools(ctx context.Context, t *testing.T, cs *mcp.ClientSession) {
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	sort.Strings(names)
	want := "comment_issue create_issue delete_repo get_issue list_repos read_file run_query search_issues update_issue"
	if strings.Join(names, " ") != want {
		t.Errorf("tools/list = %v; want %s", names, want)
	}
}

// readAndPrompt checks resources/read and prompts/get pass and answer.
func readAndPrompt(ctx context.Context, t *testing.T, cs *mcp.ClientSession) {
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: mcpharness.ResourceURI})
	if err != nil || len(rr.Contents) != 1 || !strings.Contains(rr.Contents[0].Text, "build is red") {
		t.Errorf("resources/read = %+v, %v; want the issue text", rr, err)
	}
	pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: mcpharness.PromptName, Arguments: map[string]string{"issue": "7"}})
	if err != nil || len(pr.Messages) != 1 {
		t.Fatalf("prompts/get = %+v, %v; want one message", pr, err)
	}
	if tc, ok := pr.Messages[0].Content.(*mcp.TextContent); !ok || tc.Text != "Triage issue 7" {
		t.Errorf("prompts/get message %+v; want Triage issue 7", pr.Messages[0].Content)
	}
}

// streamed calls the streaming tool as bob (analyst): every progress
// notification and the whole 256 KiB result arrive through the gate.
func streamed(ctx context.Context, t *testing.T, s *mcpharness.Stack, version string) {
	var mu sync.Mutex
	var progress []float64
	opts := &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
		mu.Lock()
		progress = append(progress, r.Params.Progress)
		mu.Unlock()
	}}
	bob, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "bob", "analyst"), mcpharness.ClientOptions{ProtocolVersion: version, Client: opts, DisableStandaloneSSE: true})
	if err != nil {
		t.Fatalf("bob connects: %v", err)
	}
	params := &mcp.CallToolParams{Name: mcpharness.StreamingTool, Arguments: map[string]any{"database": "analytics", "sql": "select 1"}}
	params.SetProgressToken("p1")
	res, err := bob.CallTool(ctx, params)
	if err != nil {
		t.Fatalf("streamed %s: %v", mcpharness.StreamingTool, err)
	}
	if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != mcpharness.BigResult() {
		t.Errorf("streamed result differs from the upstream's %d bytes", mcpharness.BigResultBytes)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(progress) != mcpharness.StreamEvents {
		t.Errorf("progress notifications %v; want %d, in order", progress, mcpharness.StreamEvents)
	}
}

// perRole checks each role's allowed and denied tools; a denied call
// never reaches the upstream.
func perRole(ctx context.Context, t *testing.T, s *mcpharness.Stack, version string) {
	cases := []struct {
		sub, role       string
		allowed, denied string
	}{
		{"bob", "analyst", "search_issues", "create_issue"},
		{"carol", "support", "comment_issue", "get_issue"},
	}
	args := map[string]map[string]any{
		"search_issues": {"query": "x"}, "create_issue": {"repo": "acme/api", "title": "t"},
		"comment_issue": {"repo": "acme/api", "number": 1, "body": "b"}, "get_issue": {"repo": "acme/api", "number": 1},
	}
	for _, tc := range cases {
		cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, tc.sub, tc.role), mcpharness.ClientOptions{ProtocolVersion: version, DisableStandaloneSSE: true})
		if err != nil {
			t.Fatalf("%s connects: %v", tc.sub, err)
		}
		if _, err := callText(ctx, cs, tc.allowed, args[tc.allowed]); err != nil {
			t.Errorf("%s %s: %v; want allowed", tc.sub, tc.allowed, err)
		}
		_, err = callText(ctx, cs, tc.denied, args[tc.denied])
		wantPolicyDeny(t, tc.sub+" "+tc.denied, err)
		if _, err := callText(ctx, cs, tc.allowed, args[tc.allowed]); err != nil {
			t.Errorf("%s %s after a deny: %v; want the session still usable", tc.sub, tc.allowed, err)
		}
	}
	for _, c := range s.Upstream.Calls() {
		if strings.HasPrefix(c, "get_issue ") || (strings.HasPrefix(c, "create_issue ") && strings.Contains(c, `"title":"t"`)) {
			t.Errorf("upstream received a denied call: %s", c)
		}
	}
}

// TestRealClientSession20251125 runs the official Go SDK client and server
// through the gate and mcp-authz in a 2025-11-25 session: initialize,
// tools/list, allowed and denied calls per role, resources/read,
// prompts/get, a streamed result, the GET SSE stream and the session DELETE.
func TestRealClientSession20251125(t *testing.T) {
	s, log := realStack(t, false)
	exerciseSession(t, s, log, "2025-11-25")
	getStreamAndDelete(t, s, log)
}

// getStreamAndDelete checks a server notification arrives on the session's
// standalone GET stream through the gate, and closing the session sends a
// DELETE that mcp-authz allows.
func getStreamAndDelete(t *testing.T, s *mcpharness.Stack, log *checkLog) {
	ctx := testCtx(t)
	changed := make(chan struct{}, 1)
	opts := &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}}
	cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "alice", "admin"), mcpharness.ClientOptions{ProtocolVersion: "2025-11-25", Client: opts})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	extra := &mcp.Tool{Name: "late_tool", InputSchema: map[string]any{"type": "object"}}
	// The GET stream opens asynchronously: notify until the client hears it
	// (bounded by eventualBound, not by a count of tries: on a loaded
	// machine the stream may take seconds to open).
	heard := false
	for deadline := time.Now().Add(eventualBound); !heard && time.Now().Before(deadline); {
		s.Upstream.Server.AddTool(extra, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
		s.Upstream.Server.RemoveTools(extra.Name)
		select {
		case <-changed:
			heard = true
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !heard || !log.has("GET allow") {
		t.Errorf("tools/list_changed heard %v, GET allowed %v; want both over the standalone SSE stream", heard, log.has("GET allow"))
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if !log.has("DELETE allow") {
		t.Errorf("no allowed DELETE recorded; checks: %v", log.entries)
	}
}

// TestRealClientStateless20260728 runs the same flow in the 2026-07-28
// stateless revision (server/discover, routing headers, no session).
func TestRealClientStateless20260728(t *testing.T) {
	s, log := realStack(t, true)
	exerciseSession(t, s, log, "2026-07-28")
}

// TestRealClientTokens checks credentials end to end with the Go SDK
// client: a DPoP-bound token with fresh proofs works for a whole session
// (POSTs and the GET stream), the same token as Bearer and a token for
// another audience cannot even initialize.
func TestRealClientTokens(t *testing.T) {
	s, _ := realStack(t, false)
	ctx := testCtx(t)
	key, err := mcpharness.NewDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	bound := minter(t).Mint(t, "erin", []string{"analyst"}, map[string]any{"cnf": map[string]any{"jkt": key.JKT}})
	dpop := mcpharness.Auth{Token: bound, DPoP: key, Host: "mcp.example.test", PublicURL: e2eResource}
	cs, err := mcpharness.Connect(ctx, t, s.Endpoint, dpop, mcpharness.ClientOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("DPoP session: %v", err)
	}
	if _, err := callText(ctx, cs, "search_issues", map[string]any{"query": "x"}); err != nil {
		t.Errorf("DPoP search_issues: %v", err)
	}
	cases := []struct {
		name string
		auth mcpharness.Auth
	}{
		{"DPoP-bound token as Bearer", mcpharness.Auth{Token: bound, Host: "mcp.example.test"}},
		{"token for another audience", mcpharness.Auth{Token: minter(t).Mint(t, "dave", []string{"analyst"}, map[string]any{"aud": "https://other.example.test/mcp"}), Host: "mcp.example.test"}},
		{"no token", mcpharness.Auth{Host: "mcp.example.test"}},
	}
	for _, tc := range cases {
		_, err := mcpharness.Connect(ctx, t, s.Endpoint, tc.auth, mcpharness.ClientOptions{ProtocolVersion: "2025-11-25"})
		if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
			t.Errorf("%s: connect error %v; want Unauthorized", tc.name, err)
		}
	}
}
