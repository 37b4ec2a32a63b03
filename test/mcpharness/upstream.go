package mcpharness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Names of what the upstream serves besides its tools.
const (
	// ResourceURI is the one resource the upstream serves.
	ResourceURI = "issues://acme/api/1"
	// PromptName is the one prompt the upstream serves.
	PromptName = "triage"
	// StreamingTool emits progress notifications before its result, so its
	// response is an SSE stream of several events.
	StreamingTool = "run_query"
	// StreamEvents is how many progress notifications StreamingTool sends.
	StreamEvents = 5
	// BigResultBytes is the size of StreamingTool's text result: large
	// enough to span many reads through the gate.
	BigResultBytes = 256 << 10
)

// UpstreamOptions configures StartUpstream.
type UpstreamOptions struct {
	// RegistryFile is a server's registry data (policies/mcp/servers/<server>/data.json):
	// every approved manifest becomes a tool, exactly as approved.
	RegistryFile string
	// Stateless serves without sessions (the go-sdk's Stateless mode).
	Stateless bool
	// Wrap, when set, wraps the MCP handler (a test's HTTP behaviour in
	// front of the SDK server: refusing a credential, adding a header).
	Wrap func(http.Handler) http.Handler
}

// Upstream is a real MCP server (the official Go SDK) over Streamable HTTP.
type Upstream struct {
	// URL is the server's MCP endpoint (http://127.0.0.1:port/mcp).
	URL string
	// Server is the SDK server, for tests that add tools or notify.
	Server  *mcp.Server
	mu      sync.Mutex
	calls   []string
	headers []http.Header
}

// Headers lists the HTTP headers of each tool call so far, in order.
func (u *Upstream) Headers() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.headers...)
}

// Calls lists the tools called so far, in order, as "name args".
func (u *Upstream) Calls() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.calls...)
}

// StartUpstream serves the registry's tools, one resource and one prompt
// at /mcp on loopback until the end of t.
func StartUpstream(t testing.TB, opts UpstreamOptions) *Upstream {
	t.Helper()
	tools, err := loadManifests(opts.RegistryFile)
	if err != nil {
		t.Fatalf("mcpharness: %v", err)
	}
	u := &Upstream{Server: mcp.NewServer(&mcp.Implementation{Name: "issues-upstream", Version: "1.0.0"}, nil)}
	for _, tool := range tools {
		u.Server.AddTool(tool, u.handle)
	}
	u.Server.AddResource(&mcp.Resource{URI: ResourceURI, Name: "issue-1", MIMEType: "text/plain"}, readResource)
	u.Server.AddPrompt(&mcp.Prompt{Name: PromptName, Arguments: []*mcp.PromptArgument{{Name: "issue", Required: true}}}, getPrompt)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return u.Server }, &mcp.StreamableHTTPOptions{
		Stateless: opts.Stateless,
		// Behind the gate the upstream sees the public :authority, as behind
		// Envoy; the SDK's localhost rebinding check would refuse it.
		DisableLocalhostProtection: true,
	})
	mux := http.NewServeMux()
	if opts.Wrap != nil {
		mux.Handle("/mcp", opts.Wrap(h))
	} else {
		mux.Handle("/mcp", h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u.URL = srv.URL + "/mcp"
	return u
}

// handle answers every tool: it echoes the call, and StreamingTool first
// sends StreamEvents progress notifications and returns a big result.
func (u *Upstream) handle(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	name, args := req.Params.Name, string(req.Params.Arguments)
	u.mu.Lock()
	u.calls = append(u.calls, name+" "+args)
	if req.Extra != nil {
		u.headers = append(u.headers, req.Extra.Header.Clone())
	}
	u.mu.Unlock()
	text := fmt.Sprintf("called %s with %s", name, args)
	if name == StreamingTool {
		if tok := req.Params.GetProgressToken(); tok != nil {
			for i := 1; i <= StreamEvents; i++ {
				p := &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: StreamEvents, Message: fmt.Sprintf("step %d", i)}
				if err := req.Session.NotifyProgress(ctx, p); err != nil {
					return nil, err
				}
			}
		}
		text = BigResult()
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
}

// BigResult is StreamingTool's result text: BigResultBytes of a
// recognisable, position-dependent pattern (a truncated or reordered copy
// never equals it).
func BigResult() string {
	var b strings.Builder
	for i := 0; b.Len() < BigResultBytes; i++ {
		fmt.Fprintf(&b, "%08d ", i)
	}
	return b.String()[:BigResultBytes]
}

func readResource(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	if req.Params.URI != ResourceURI {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: ResourceURI, MIMEType: "text/plain", Text: "issue 1: the build is red"}}}, nil
}

func getPrompt(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "Triage issue " + req.Params.Arguments["issue"]}}}}, nil
}

// loadManifests reads the approved manifests of a registry data file.
func loadManifests(path string) ([]*mcp.Tool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry file: %w", err)
	}
	var data struct {
		Tools map[string]struct {
			Manifest json.RawMessage `json:"manifest"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("registry file %s: %w", path, err)
	}
	names := make([]string, 0, len(data.Tools))
	for n := range data.Tools {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*mcp.Tool, 0, len(names))
	for _, n := range names {
		var tool mcp.Tool
		if err := json.Unmarshal(data.Tools[n].Manifest, &tool); err != nil {
			return nil, fmt.Errorf("manifest of %s: %w", n, err)
		}
		out = append(out, &tool)
	}
	return out, nil
}
