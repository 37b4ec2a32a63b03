package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// hopTo fetches u without following and returns where it redirects.
func hopTo(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	status, loc, page := open(t, c, u)
	if status != http.StatusFound && status != http.StatusSeeOther {
		t.Fatalf("GET %s = %d; want a redirect (%s)", u, status, page)
	}
	return loc
}

// loginCallbackOf walks a link to the login issuer and returns the
// callback URL the issuer sends the browser back to (not fetched).
func loginCallbackOf(t *testing.T, c *http.Client, link string) string {
	t.Helper()
	return hopTo(t, c, hopTo(t, c, link))
}

// browserRefusal is one refused flow: run returns the final status and page.
type browserRefusal struct {
	name   string
	user   string
	run    func(t *testing.T, b *browserStack, link string) (int, string)
	status int
	reason string
}

func browserRefusals() []browserRefusal {
	return []browserRefusal{
		{"another user completes the link", "carol", func(t *testing.T, b *browserStack, link string) (int, string) {
			b.idp.SetUser("mallory")
			defer b.idp.SetUser("")
			s, _, p := open(t, b.browser(t, true), link)
			return s, p
		}, 403, "subject_mismatch"},
		{"reused link", "dave", func(t *testing.T, b *browserStack, link string) (int, string) {
			b.idp.SetUser("dave")
			defer b.idp.SetUser("")
			b.prov.SetUser("") // dave declines at the provider: nothing stored
			// Logging in as dave spends the link, whatever follows.
			if s, _, p := open(t, b.browser(t, true), link); s != http.StatusBadGateway {
				t.Fatalf("first use: %d %s; want the provider's refusal", s, p)
			}
			s, _, p := open(t, b.browser(t, true), link)
			return s, p
		}, 400, "link_invalid"},
		{"expired link", "erin", func(t *testing.T, b *browserStack, link string) (int, string) {
			b.advance(10*time.Minute + time.Second)
			defer b.advance(-10*time.Minute - time.Second)
			s, _, p := open(t, b.browser(t, true), link)
			return s, p
		}, 400, "link_invalid"},
		{"callback without the cookie (CSRF)", "frank", func(t *testing.T, b *browserStack, link string) (int, string) {
			b.idp.SetUser("frank")
			defer b.idp.SetUser("")
			cb := loginCallbackOf(t, b.browser(t, false), link)
			s, _, p := open(t, b.browser(t, true), cb)
			return s, p
		}, 400, "cookie_missing"},
		{"callback with another state", "grace", func(t *testing.T, b *browserStack, link string) (int, string) {
			b.idp.SetUser("grace")
			defer b.idp.SetUser("")
			c := b.browser(t, false)
			u, _ := url.Parse(loginCallbackOf(t, c, link))
			q := u.Query()
			q.Set("state", strings.Repeat("x", 43))
			u.RawQuery = q.Encode()
			s, _, p := open(t, c, u.String())
			return s, p
		}, 400, "state_mismatch"},
		{"redirect URI mismatch at the provider", "heidi", func(t *testing.T, b *browserStack, link string) (int, string) {
			b.idp.SetUser("heidi")
			b.prov.SetUser("heidi@mail.example")
			good := b.prov.RedirectURI
			b.prov.SetRedirectURI("https://elsewhere.example/connect/callback/provider")
			defer b.prov.SetRedirectURI(good)
			s, final, p := open(t, b.browser(t, true), link)
			if !strings.HasPrefix(final, b.prov.URL) {
				t.Errorf("ended at %s; want the provider's error page", final)
			}
			return s, p
		}, 400, "redirect_uri mismatch"},
	}
}

// TestElicitationBrowserRefusals: each refused flow ends on the stable
// error page with its reason (the provider's own page for its redirect URI
// check), stores nothing, and the user's next call elicits again.
func TestElicitationBrowserRefusals(t *testing.T) {
	b := startBrowserStack(t, false)
	ctx := testCtx(t)
	for _, tc := range browserRefusals() {
		t.Run(tc.name, func(t *testing.T) {
			link := b.elicitURL(t, ctx, tc.user)
			status, page := tc.run(t, b, link)
			if status != tc.status || !strings.Contains(page, tc.reason) {
				t.Errorf("status %d, page %s; want %d with %q", status, page, tc.status, tc.reason)
			}
			if l, err := b.App.Connect().Store().List(ctx, b.idp.URL, tc.user); err != nil || len(l) != 0 {
				t.Errorf("stored for %s: %v %v", tc.user, l, err)
			}
			b.expectElicitation(t, ctx, tc.user)
		})
	}
	if calls := b.Upstream.Calls(); len(calls) != 0 {
		t.Fatalf("a refused user's call reached the upstream: %v", calls)
	}
	b.expectMetric(t, `mcp_authz_connect_flow_total{outcome="refused",reason="subject_mismatch"} 1`)
}

// expectElicitation: sub's call is still answered with -32042.
func (b *browserStack) expectElicitation(t *testing.T, ctx context.Context, sub string) {
	t.Helper()
	cs, err := mcpharness.Connect(ctx, t, b.Endpoint, b.auth(t, sub),
		mcpharness.ClientOptions{ProtocolVersion: "2025-11-25", Client: urlClient(&elicitRecorder{}), DisableStandaloneSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeURLElicitationRequired {
		t.Errorf("%s after the refusal: want -32042, got %v", sub, err)
	}
}
