package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// connectInBrowser follows an elicitation URL as the user's browser would,
// through the login issuer and the provider, to the success page. It may
// run on the SDK's goroutine, so it reports instead of failing t.
func (b *browserStack) connectInBrowser(t *testing.T, u string) error {
	if !strings.HasPrefix(u, "http://"+connectHost+"/connect/e/") {
		return fmt.Errorf("elicitation URL %q", u)
	}
	resp, err := b.browser(t, true).Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "return to your client") {
		return fmt.Errorf("connect flow ended %d at %s: %s", resp.StatusCode, resp.Request.URL, page)
	}
	return nil
}

// checkInjected: the upstream got the provider's token in its header and a
// minted token (never alice's), the client saw neither, and the decision
// log holds no provider token.
func (b *browserStack) checkInjected(t *testing.T, res *mcp.CallToolResult, userToken string) {
	t.Helper()
	issued := b.prov.Issued()
	hs := b.Upstream.Headers()
	if len(issued) != 1 || len(hs) != 1 || hs[0].Get("x-mcp-connection-mail") != issued[0] {
		t.Fatalf("provider issued %v; upstream headers %v", issued, hs)
	}
	for name, vs := range hs[0] {
		if strings.Contains(strings.Join(vs, " "), userToken) {
			t.Errorf("the upstream saw the user's bearer token in %s", name)
		}
	}
	if !strings.HasPrefix(hs[0].Get("authorization"), "Bearer ") {
		t.Errorf("upstream authorization %q: want the minted token", hs[0].Get("authorization"))
	}
	raw, _ := json.Marshal(res)
	if strings.Contains(string(raw), issued[0]) {
		t.Error("the provider token reached the client")
	}
	dl := b.waitAllowRecord(t)
	if strings.Contains(dl, issued[0]) {
		t.Error("the decision log holds the provider token")
	}
}

// TestElicitationBrowserConnect20251125: alice's call gets -32042; her
// browser follows the URL (login as alice at the issuer, the provider's
// consent) and stores the credential; her retry succeeds with the
// provider's token upstream and nothing sent through the client.
func TestElicitationBrowserConnect20251125(t *testing.T) {
	b := startBrowserStack(t, false)
	ctx := testCtx(t)
	b.idp.SetUser("alice")
	b.prov.SetUser("alice@mail.example")
	if err := b.connectInBrowser(t, b.elicitURL(t, ctx, "alice")); err != nil {
		t.Fatal(err)
	}
	auth := b.auth(t, "alice")
	cs, err := mcpharness.Connect(ctx, t, b.Endpoint, auth,
		mcpharness.ClientOptions{ProtocolVersion: "2025-11-25", Client: urlClient(&elicitRecorder{}), DisableStandaloneSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	if err != nil || res.IsError {
		t.Fatalf("retry: %+v %v (checks %v)", res, err, b.log.entries)
	}
	b.checkInjected(t, res, auth.Token)
	b.expectMetric(t, `mcp_authz_connect_flow_total{outcome="connected",reason=""} 1`)
}

// expectMetric: the admin listener's /metrics holds line.
func (b *browserStack) expectMetric(t *testing.T, line string) {
	t.Helper()
	resp, err := http.Get("http://" + b.App.Addr("admin") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), line) {
		t.Errorf("/metrics lacks %s", line)
	}
}

// TestElicitationBrowserConnect20260728: the SDK hands alice's
// input_required to her handler, which completes the flow in the browser
// and accepts; the SDK's retry (requestState echoed) succeeds.
func TestElicitationBrowserConnect20260728(t *testing.T) {
	b := startBrowserStack(t, true)
	ctx := testCtx(t)
	b.idp.SetUser("alice")
	b.prov.SetUser("alice@mail.example")
	rec := &elicitRecorder{follow: func(_ context.Context, p *mcp.ElicitParams) error {
		return b.connectInBrowser(t, p.URL)
	}}
	auth := b.auth(t, "alice")
	cs, err := mcpharness.Connect(ctx, t, b.Endpoint, auth,
		mcpharness.ClientOptions{ProtocolVersion: "2026-07-28", Client: urlClient(rec), DisableStandaloneSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	if err != nil || res.IsError {
		t.Fatalf("call: %+v %v (checks %v)", res, err, b.log.entries)
	}
	if ps := rec.params(); len(ps) != 1 || ps[0].Mode != "url" {
		t.Fatalf("elicitations: %+v", ps)
	}
	b.checkInjected(t, res, auth.Token)
}

// waitAllowRecord polls the decision log (written asynchronously) until it
// holds the allowed tools/call, and returns its text.
func (b *browserStack) waitAllowRecord(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		dl, _ := os.ReadFile(b.dlog)
		for _, line := range strings.Split(string(dl), "\n") {
			var r map[string]any
			if json.Unmarshal([]byte(line), &r) == nil && r["method"] == "tools/call" && r["decision"] == "allow" {
				return string(dl)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no allowed tools/call in the decision log after 20s: %s", dl)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
