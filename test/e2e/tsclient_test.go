package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// tsDir is the TypeScript client's package (its lock file pins the SDK).
const tsDir = "../tsclient"

// tsObservations is what test/tsclient/client.mjs prints.
type tsObservations struct {
	Connect struct {
		ProtocolVersion string `json:"protocolVersion"`
		SessionID       string `json:"sessionId"`
	} `json:"connect"`
	Tools     json.RawMessage `json:"tools"`
	Allowed   json.RawMessage `json:"allowed"`
	Denied    json.RawMessage `json:"denied"`
	AfterDeny json.RawMessage `json:"afterDeny"`
	Resource  json.RawMessage `json:"resource"`
	Prompt    json.RawMessage `json:"prompt"`
	Streamed  struct {
		Progress []float64 `json:"progress"`
		Bytes    int       `json:"bytes"`
		SHA256   string    `json:"sha256"`
	} `json:"streamed"`
	Terminate json.RawMessage `json:"terminate"`
}

// runTSClient runs client.mjs with node against endpoint and token. A
// missing node or SDK fails the test: CI installs both (.ci/run).
func runTSClient(t *testing.T, endpoint, token string) tsObservations {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): install Node.js 18+ and run `npm ci` in test/tsclient, as .ci/run does", err)
	}
	if _, err := os.Stat(filepath.Join(tsDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		t.Fatalf("the TypeScript SDK is not installed (%v): run `npm ci` in test/tsclient, as .ci/run does", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = tsDir
	cmd.Env = append(os.Environ(), "MCP_URL="+endpoint, "MCP_TOKEN="+token)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	var obs tsObservations
	if err := json.Unmarshal(out, &obs); err != nil {
		t.Fatalf("client.mjs output %q: %v", out, err)
	}
	return obs
}

// TestRealClientTypeScript20251125 runs the official TypeScript SDK client
// (@modelcontextprotocol/sdk 1.32.2, which speaks up to 2025-11-25) through
// the gate, routed by context_extensions as examples/envoy/envoy.yaml does:
// a session as analyst bob, allowed and denied calls, resources, prompts, a
// streamed result with progress, the GET stream and the session DELETE.
func TestRealClientTypeScript20251125(t *testing.T) {
	log := &checkLog{}
	s := mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:   e2eConfig,
		Upstream: mcpharness.UpstreamOptions{RegistryFile: registryFile},
		Gate: func(c *envoyshim.Config) {
			c.Observe = log.observe
			c.ContextExtensions = map[string]string{"resource": e2eResource, "server": "issues"}
		},
	})
	obs := runTSClient(t, s.Endpoint, minter(t).Mint(t, "bob", []string{"analyst"}, nil))
	if obs.Connect.ProtocolVersion != "2025-11-25" || obs.Connect.SessionID == "" {
		t.Errorf("connect = %+v; want a 2025-11-25 session", obs.Connect)
	}
	want := map[string]string{
		"tools":     `["comment_issue","create_issue","delete_repo","get_issue","list_repos","read_file","run_query","search_issues","update_issue"]`,
		"allowed":   `"called search_issues with {\"query\":\"x\"}"`,
		"denied":    `{"error":{"code":-32003,"message":"MCP error -32003: Forbidden by policy"}}`,
		"afterDeny": `"called search_issues with {\"query\":\"y\"}"`,
		"resource":  `"issue 1: the build is red"`,
		"prompt":    `"Triage issue 7"`,
		"terminate": `"ok"`,
	}
	got := map[string]json.RawMessage{
		"tools": obs.Tools, "allowed": obs.Allowed, "denied": obs.Denied, "afterDeny": obs.AfterDeny,
		"resource": obs.Resource, "prompt": obs.Prompt, "terminate": obs.Terminate,
	}
	for k, w := range want {
		if string(got[k]) != w {
			t.Errorf("%s = %s; want %s", k, got[k], w)
		}
	}
	sum := sha256.Sum256([]byte(mcpharness.BigResult()))
	if st := obs.Streamed; len(st.Progress) != mcpharness.StreamEvents || st.Bytes != mcpharness.BigResultBytes || st.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("streamed = %d progress, %d bytes, sha256 %s; want %d, %d and the upstream's", len(st.Progress), st.Bytes, st.SHA256, mcpharness.StreamEvents, mcpharness.BigResultBytes)
	}
	for _, e := range []string{"GET allow", "DELETE allow", "POST deny tool_not_allowed"} {
		if !log.has(e) {
			t.Errorf("no %q check recorded; checks: %v", e, log.entries)
		}
	}
}
