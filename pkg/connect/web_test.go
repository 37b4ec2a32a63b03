package connect

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBrowserConnectOAuth: the link logs alice in at the issuer (PKCE,
// nonce), sends her to the provider (PKCE, state, exact redirect URI) and
// stores the provider's token under (iss, alice, mail) with its scopes,
// expiry and refresh token; the page never shows the token.
func TestBrowserConnectOAuth(t *testing.T) {
	r := newRig(t)
	r.idp.SetUser("alice")
	r.prov.SetUser("alice@mail")
	e := r.elicit("alice", "mail", "mail.read", "mail.send")
	status, final, body := get(t, browser(t, true), e.URL)
	if status != http.StatusOK || !strings.Contains(body, "You may close this page and return to your client") {
		t.Fatalf("GET %s = %d at %s: %s", e.URL, status, final, body)
	}
	c, ok := r.stored("alice", "mail")
	issued := r.prov.Issued()
	if !ok || len(issued) != 1 || c.AccessToken != issued[0] || !strings.HasPrefix(c.RefreshToken, "rt-") {
		t.Fatalf("stored %+v (ok %v); provider issued %v", c, ok, issued)
	}
	if strings.Join(c.Scopes, " ") != "mail.read mail.send" || c.ExpiresAt.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("stored scopes %v, expiry %v", c.Scopes, c.ExpiresAt)
	}
	if strings.Contains(body, c.AccessToken) || strings.Contains(final, c.AccessToken) {
		t.Error("the provider token reached the browser")
	}
	if got := r.observed; len(got) != 1 || got[0] != "connected:" {
		t.Errorf("observed %v", got)
	}
}

var csrfField = regexp.MustCompile(`name="state" value="([A-Za-z0-9_-]{43})"`)

// TestBrowserConnectAPIKey: the API-key form carries a CSRF token bound to
// the cookie's flow; a key not matching the pattern shows the form again
// (under a fresh token, the old one spent), a matching one is stored.
func TestBrowserConnectAPIKey(t *testing.T) {
	r := newRig(t)
	r.idp.SetUser("alice")
	b := browser(t, true)
	status, _, body := get(t, b, r.elicit("alice", "keys").URL)
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("form: %d %s", status, body)
	}
	status, _, body = post(t, b, r.base+"/connect/api-key", url.Values{"state": {m[1]}, "api_key": {"not-a-key"}})
	m2 := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m2 == nil || m2[1] == m[1] || !strings.Contains(body, "not a valid") {
		t.Fatalf("bad key: %d %s", status, body)
	}
	status, _, body = post(t, b, r.base+"/connect/api-key", url.Values{"state": {m2[1]}, "api_key": {"kk_12345678"}})
	if status != http.StatusOK || !strings.Contains(body, "return to your client") {
		t.Fatalf("good key: %d %s", status, body)
	}
	if c, ok := r.stored("alice", "keys"); !ok || c.AccessToken != "kk_12345678" {
		t.Fatalf("stored %+v %v", c, ok)
	}
	if strings.Contains(body, "kk_12345678") {
		t.Error("the page echoes the key")
	}
}

// TestBrowserConnectHTTPS: on an https base URL the flow sets __Host-
// cookies marked Secure and HttpOnly, and completes with them.
func TestBrowserConnectHTTPS(t *testing.T) {
	r := newRigWith(t, true)
	r.idp.SetUser("alice")
	r.prov.SetUser("alice@mail")
	b := browser(t, false)
	b.Transport = r.srv.Client().Transport
	link := r.elicit("alice", "mail").URL
	resp, err := b.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "__Host-mcp-authz-connect-flow=") || !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("Set-Cookie %q", sc)
	}
	b.CheckRedirect = nil
	status, _, body := get(t, b, resp.Header.Get("Location"))
	if status != http.StatusOK || !strings.Contains(body, "return to your client") {
		t.Fatalf("flow over https: %d %s", status, body)
	}
	if _, ok := r.stored("alice", "mail"); !ok {
		t.Fatal("nothing stored")
	}
}
