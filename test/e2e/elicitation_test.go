package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// connectBundle copies the default policies and declares that
// issues/search_issues needs the mail connection with mail.read.
func connectBundle(t *testing.T) string {
	t.Helper()
	dir := copyPolicies(t)
	p := filepath.Join(dir, "mcp", "servers", "issues", "data.json")
	server := readJSON(t, p)
	tool := server["tools"].(map[string]any)["search_issues"].(map[string]any)
	tool["connections"] = []any{map[string]any{"provider": "mail", "scopes": []any{"mail.read"}}}
	writeJSON(t, p, server)
	return dir
}

// connectStackConfig is e2eConfig with the connect bundle, a mail provider
// and the connect section; providerYAML replaces the provider entry.
func connectStackConfig(t *testing.T, providerYAML, connectYAML string) string {
	t.Helper()
	dir := t.TempDir()
	if providerYAML == "" {
		providerYAML = "  - {name: mail, kind: api_key, pattern: 'mk_[a-z0-9]{8,}', scopes: [mail.read]}\n"
	}
	if connectYAML == "" {
		connectYAML = "  client_id: mcp-authz\n  base_url: https://connect.example.test\n"
	}
	return e2eConfig + "bundle: {path: " + connectBundle(t) + "}\nproviders:\n" + providerYAML +
		"connect:\n  state_dir: " + dir + "\n  encryption_key_file: " + writeCredKey(t, dir) + "\n" + connectYAML
}

// elicitRecorder is a client ElicitationHandler that records URL-mode
// elicitations and runs follow (nil: declines by failing).
type elicitRecorder struct {
	mu     sync.Mutex
	seen   []*mcp.ElicitParams
	follow func(ctx context.Context, p *mcp.ElicitParams) error
}

func (r *elicitRecorder) handle(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Params)
	r.mu.Unlock()
	if r.follow == nil {
		return nil, errors.New("test client: not following the elicitation")
	}
	if err := r.follow(ctx, req.Params); err != nil {
		return nil, err
	}
	return &mcp.ElicitResult{Action: "accept"}, nil
}

func (r *elicitRecorder) params() []*mcp.ElicitParams {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*mcp.ElicitParams(nil), r.seen...)
}

// urlClient declares URL-mode elicitation, handled by r.
func urlClient(r *elicitRecorder) *mcp.ClientOptions {
	return &mcp.ClientOptions{
		ElicitationHandler: r.handle,
		Capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{
			Form: &mcp.FormElicitationCapabilities{}, URL: &mcp.URLElicitationCapabilities{}}},
	}
}

func connectStack(t *testing.T, cfg string, stateless bool) (*mcpharness.Stack, *checkLog) {
	t.Helper()
	log := &checkLog{}
	s := mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:   cfg,
		Upstream: mcpharness.UpstreamOptions{RegistryFile: registryFile, Stateless: stateless},
		Gate:     func(c *envoyshim.Config) { c.Observe = log.observe },
	})
	return s, log
}

var mailSearchArgs = map[string]any{"query": "is:open"}

// TestElicitationRequired20251125: a 2025-11-25 client that declared
// elicitation.url gets -32042 with one URL elicitation; one that did not
// gets a JSON-RPC error naming where to connect. Nothing reaches upstream.
func TestElicitationRequired20251125(t *testing.T) {
	s, log := connectStack(t, connectStackConfig(t, "", ""), false)
	ctx := testCtx(t)
	rec := &elicitRecorder{}
	cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "alice", "admin"),
		mcpharness.ClientOptions{ProtocolVersion: "2025-11-25", Client: urlClient(rec)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeURLElicitationRequired {
		t.Fatalf("want -32042, got %v", err)
	}
	data := string(rpcErr.Data)
	for _, want := range []string{`"mode":"url"`, `"elicitationId":"`, `"url":"https://connect.example.test/connect/e/`} {
		if !strings.Contains(data, want) {
			t.Errorf("error data %s lacks %s", data, want)
		}
	}
	if !log.has("POST deny connection_required") {
		t.Errorf("checks: %v", log.entries)
	}
	plain, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "alice", "admin"),
		mcpharness.ClientOptions{ProtocolVersion: "2025-11-25", DisableStandaloneSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	if err == nil || errors.As(err, &rpcErr) && rpcErr.Code == mcp.CodeURLElicitationRequired ||
		!strings.Contains(err.Error(), "Connect your mail account at https://connect.example.test/connect/e/") {
		t.Fatalf("a client without elicitation.url: want -32003 naming the URL, got %v", err)
	}
	if calls := s.Upstream.Calls(); len(calls) != 0 {
		t.Fatalf("upstream was called: %v", calls)
	}
}

// TestElicitationInputRequired20260728: a 2026-07-28 client declaring
// elicitation.url in _meta gets input_required with an elicitation/create
// in URL mode; the SDK hands it to the client's handler.
func TestElicitationInputRequired20260728(t *testing.T) {
	s, _ := connectStack(t, connectStackConfig(t, "", ""), true)
	ctx := testCtx(t)
	rec := &elicitRecorder{}
	cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "alice", "admin"),
		mcpharness.ClientOptions{ProtocolVersion: "2026-07-28", Client: urlClient(rec), DisableStandaloneSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	if err == nil {
		t.Fatal("the call succeeded without a connection")
	}
	ps := rec.params()
	if len(ps) != 1 || ps[0].Mode != "url" || !strings.HasPrefix(ps[0].URL, "https://connect.example.test/connect/e/") {
		t.Fatalf("elicitations seen: %+v (err %v)", ps, err)
	}
	if calls := s.Upstream.Calls(); len(calls) != 0 {
		t.Fatalf("upstream was called: %v", calls)
	}
}

// TestElicitationConnectedCallCarriesCredential: once alice's mail
// credential is stored (what the connect flow does), her call is allowed and
// the upstream receives the credential in x-mcp-connection-mail; the client's
// result never contains it, and bob, not connected, still gets an elicitation.
func TestElicitationConnectedCallCarriesCredential(t *testing.T) {
	s, log := connectStack(t, connectStackConfig(t, "", ""), false)
	ctx := testCtx(t)
	const secret = "mk_alicemailtoken42"
	storeMail(ctx, t, s, "alice", secret)
	res, err := urlSession(ctx, t, s, "alice").CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	if err != nil || res.IsError {
		t.Fatalf("connected call: %+v %v (checks %v)", res, err, log.entries)
	}
	raw, _ := json.Marshal(res)
	if strings.Contains(string(raw), secret) {
		t.Fatal("the provider token reached the client")
	}
	hs := s.Upstream.Headers()
	if len(hs) != 1 || hs[0].Get("x-mcp-connection-mail") != secret {
		t.Fatalf("upstream headers: %v", hs)
	}
	_, err = urlSession(ctx, t, s, "bob").CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeURLElicitationRequired {
		t.Fatalf("bob (alice's credential must not serve him): %v", err)
	}
	if len(s.Upstream.Headers()) != 1 {
		t.Fatal("bob's call reached the upstream")
	}
}

// TestElicitationOperatorRevokesSubject: an operator's DELETE /connections
// on the admin listener removes a user's credentials; the next call elicits.
func TestElicitationOperatorRevokesSubject(t *testing.T) {
	s, _ := connectStack(t, connectStackConfig(t, "", ""), false)
	ctx := testCtx(t)
	storeMail(ctx, t, s, "alice", "mk_x12345678")
	if body := revokeOn(ctx, t, s, "alice"); !strings.Contains(body, `"revoked":1`) {
		t.Fatalf("revoke: %s", body)
	}
	_, err := urlSession(ctx, t, s, "alice").CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeURLElicitationRequired {
		t.Fatalf("after revocation: %v", err)
	}
}
