package connect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

var revokeCSRF = regexp.MustCompile(`name="state" value="([A-Za-z0-9_-]{43})"`)

// TestConnectionsListAndRevoke: /connect/ logs the user in, lists their
// connections (provider, scopes, expiry; never the token) and revokes one
// with the session's CSRF token; another user's credential is untouched.
func TestConnectionsListAndRevoke(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, sub := range []string{"alice", "bob"} {
		k := credstore.Key{Issuer: r.idp.URL, Subject: sub, Provider: "mail"}
		c := credstore.Credential{AccessToken: "secret-" + sub, Scopes: []string{"mail.read"}, ExpiresAt: time.Now().Add(time.Hour)}
		if err := r.svc.Store().Put(ctx, k, c); err != nil {
			t.Fatal(err)
		}
	}
	r.idp.SetUser("alice")
	b := browser(t, true)
	status, _, body := get(t, b, r.base+"/connect/")
	m := revokeCSRF.FindStringSubmatch(body)
	if status != 200 || m == nil || !strings.Contains(body, "<code>mail.read</code>") || strings.Contains(body, "secret-") {
		t.Fatalf("list: %d %s", status, body)
	}
	if s, _, p := post(t, b, r.base+"/connect/revoke", url.Values{"state": {"x"}, "provider": {"mail"}}); s != 400 || !strings.Contains(p, reasonStateMismatch) {
		t.Fatalf("revoke without the CSRF token: %d %s", s, p)
	}
	if s, _, p := post(t, browser(t, true), r.base+"/connect/revoke", url.Values{"state": {m[1]}, "provider": {"mail"}}); s != 403 || !strings.Contains(p, reasonSessionRequired) {
		t.Fatalf("revoke without the session: %d %s", s, p)
	}
	status, _, body = post(t, b, r.base+"/connect/revoke", url.Values{"state": {m[1]}, "provider": {"mail"}})
	if status != 200 || !strings.Contains(body, "No connections.") {
		t.Fatalf("after revoke: %d %s", status, body)
	}
	if _, ok := r.stored("alice", "mail"); ok {
		t.Error("alice's credential survived revocation")
	}
	if _, ok := r.stored("bob", "mail"); !ok {
		t.Error("bob's credential was revoked")
	}
}

// TestSessionExpiresAndResists: an expired or tampered session cookie is no
// session (the page logs in again).
func TestSessionExpiresAndResists(t *testing.T) {
	r := newRig(t)
	r.idp.SetUser("alice")
	b := browser(t, false)
	cb := hop(t, b, hop(t, b, r.base+"/connect/"))
	if loc := hop(t, b, cb); loc != r.base+"/connect/" {
		t.Fatalf("after login: %s", loc)
	}
	if s, _, _ := get(t, b, r.base+"/connect/"); s != 200 {
		t.Fatalf("with a session: %d", s)
	}
	u, _ := url.Parse(r.base)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "mcp-authz-connect-session" {
			c.Value = c.Value[:len(c.Value)-2] + "AA"
			b.Jar.SetCookies(u, []*http.Cookie{c})
		}
	}
	if s, loc, _ := get(t, b, r.base+"/connect/"); s != http.StatusFound || !strings.HasPrefix(loc, r.idp.URL) {
		t.Fatalf("tampered session: %d %s; want a new login", s, loc)
	}
}

// TestCookieAttributes: on https the cookies are __Host-, Secure, HttpOnly,
// SameSite=Lax on path /; the login redirect uses PKCE S256, state and nonce.
func TestCookieAttributes(t *testing.T) {
	r := newRig(t)
	web := &web{s: r.svc}
	web.flowCookie, web.sessionCookie, web.secure = cookieNames("https://connect.example")
	rec := httptest.NewRecorder()
	web.setCookie(rec, web.flowCookie, "v", time.Minute)
	got := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-mcp-authz-connect-flow=v", "Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=60"} {
		if !strings.Contains(got, want) {
			t.Errorf("Set-Cookie %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "Domain=") {
		t.Errorf("Set-Cookie %q names a domain", got)
	}
	loc := hop(t, browser(t, false), r.elicit("alice", "mail").URL)
	q, _ := url.Parse(loc)
	v := q.Query()
	if v.Get("code_challenge_method") != "S256" || v.Get("state") == "" || v.Get("nonce") == "" ||
		v.Get("redirect_uri") != r.base+"/connect/callback/login" || v.Get("scope") != "openid" {
		t.Errorf("login redirect %s", loc)
	}
}

// TestPendingSetBounded: a full set refuses until entries expire.
func TestPendingSetBounded(t *testing.T) {
	p := &pendingSet{exp: map[string]time.Time{}, max: 2}
	now := time.Unix(1000, 0)
	if !p.add("a", now, now.Add(time.Minute)) || !p.add("b", now, now.Add(2*time.Minute)) {
		t.Fatal("refused below the bound")
	}
	if p.add("c", now, now.Add(time.Minute)) {
		t.Fatal("accepted beyond the bound")
	}
	if !p.add("c", now.Add(time.Minute), now.Add(3*time.Minute)) {
		t.Fatal("an expired entry still counts")
	}
	p.remove("b")
	if !p.add("d", now.Add(time.Minute), now.Add(3*time.Minute)) || len(p.exp) != 2 {
		t.Fatalf("after remove: %v", p.exp)
	}
}
