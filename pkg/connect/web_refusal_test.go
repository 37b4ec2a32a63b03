package connect

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hop fetches u with a browser that does not follow redirects and returns
// the Location it is sent to (failing when it is not a redirect).
func hop(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	status, loc, body := get(t, c, u)
	if status != http.StatusFound && status != http.StatusSeeOther {
		t.Fatalf("GET %s = %d; want a redirect (%s)", u, status, body)
	}
	return loc
}

// toLoginCallback walks the link to the login issuer and back: it returns
// the callback URL the issuer redirects to (not fetched yet).
func toLoginCallback(t *testing.T, c *http.Client, link string) string {
	t.Helper()
	return hop(t, c, hop(t, c, link))
}

// toProviderCallback walks on to the provider and returns its callback URL.
func toProviderCallback(t *testing.T, c *http.Client, link string) string {
	t.Helper()
	return hop(t, c, hop(t, c, toLoginCallback(t, c, link)))
}

func withState(t *testing.T, u, state string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set("state", state)
	p.RawQuery = q.Encode()
	return p.String()
}

// idTokenRow completes alice's link with an ID token whose claims are
// overridden.
func idTokenRow(claims map[string]any) func(t *testing.T, r *rig) (int, string) {
	return func(t *testing.T, r *rig) (int, string) {
		r.idp.OverrideIDToken(claims)
		s, _, b := get(t, browser(t, true), r.elicit("alice", "mail").URL)
		return s, b
	}
}

// refusalCase is one refused browser flow: run drives it and returns the
// final status and page.
type refusalCase struct {
	name   string
	run    func(t *testing.T, r *rig) (int, string)
	status int
	reason string
}

// linkRefusals are refusals up to the login callback.
func linkRefusals() []refusalCase {
	return []refusalCase{
		{"another user completes alice's link", func(t *testing.T, r *rig) (int, string) {
			r.idp.SetUser("bob")
			s, _, b := get(t, browser(t, true), r.elicit("alice", "mail").URL)
			return s, b
		}, 403, reasonSubjectMismatch},
		{"expired link", func(t *testing.T, r *rig) (int, string) {
			e := r.elicit("alice", "mail")
			r.advance(10*time.Minute + time.Second)
			s, _, b := get(t, browser(t, true), e.URL)
			return s, b
		}, 400, reasonLinkInvalid},
		{"unknown link", func(t *testing.T, r *rig) (int, string) {
			s, _, b := get(t, browser(t, true), r.base+"/connect/e/"+strings.Repeat("A", idLen))
			return s, b
		}, 400, reasonLinkInvalid},
		{"malformed link", func(t *testing.T, r *rig) (int, string) {
			s, _, b := get(t, browser(t, true), r.base+"/connect/e/short")
			return s, b
		}, 400, reasonLinkInvalid},
		{"link of another issuer", func(t *testing.T, r *rig) (int, string) {
			e, err := r.svc.Elicit(t.Context(), Binding{Issuer: "https://other.example", Subject: "alice", ClientID: "c", Provider: "mail"})
			if err != nil {
				t.Fatal(err)
			}
			s, _, b := get(t, browser(t, true), e.URL)
			return s, b
		}, 403, reasonIssuerMismatch},
		{"ID token for another audience", idTokenRow(map[string]any{"aud": "another-client"}), 400, reasonIDTokenInvalid},
		{"ID token with another nonce", idTokenRow(map[string]any{"nonce": "replayed"}), 400, reasonIDTokenInvalid},
		{"ID token from another issuer", idTokenRow(map[string]any{"iss": "https://evil.example"}), 400, reasonIDTokenInvalid},
		{"ID token expired", idTokenRow(map[string]any{"exp": 1000}), 400, reasonIDTokenInvalid},
		{"login callback without the cookie", func(t *testing.T, r *rig) (int, string) {
			cb := toLoginCallback(t, browser(t, false), r.elicit("alice", "mail").URL)
			s, _, b := get(t, browser(t, true), cb)
			return s, b
		}, 400, reasonCookieMissing},
		{"login callback with another state", func(t *testing.T, r *rig) (int, string) {
			c := browser(t, false)
			cb := toLoginCallback(t, c, r.elicit("alice", "mail").URL)
			s, _, b := get(t, c, withState(t, cb, strings.Repeat("B", idLen)))
			return s, b
		}, 400, reasonStateMismatch},
	}
}

// flowRefusals are refusals from the login callback on.
func flowRefusals() []refusalCase {
	return []refusalCase{
		{"login callback replayed", func(t *testing.T, r *rig) (int, string) {
			c := browser(t, false)
			cb := toLoginCallback(t, c, r.elicit("alice", "mail").URL)
			hop(t, c, cb)
			s, _, b := get(t, c, cb)
			return s, b
		}, 400, reasonStateMismatch},
		{"login flow expired", func(t *testing.T, r *rig) (int, string) {
			c := browser(t, false)
			cb := toLoginCallback(t, c, r.elicit("alice", "mail").URL)
			r.advance(11 * time.Minute)
			s, _, b := get(t, c, cb)
			return s, b
		}, 400, reasonFlowExpired},
		{"provider callback without the cookie", func(t *testing.T, r *rig) (int, string) {
			cb := toProviderCallback(t, browser(t, false), r.elicit("alice", "mail").URL)
			s, _, b := get(t, browser(t, true), cb)
			return s, b
		}, 400, reasonCookieMissing},
		{"provider callback with another state", func(t *testing.T, r *rig) (int, string) {
			c := browser(t, false)
			cb := toProviderCallback(t, c, r.elicit("alice", "mail").URL)
			s, _, b := get(t, c, withState(t, cb, strings.Repeat("C", idLen)))
			return s, b
		}, 400, reasonStateMismatch},
		{"provider refuses", func(t *testing.T, r *rig) (int, string) {
			r.prov.SetUser("")
			s, _, b := get(t, browser(t, true), r.elicit("alice", "mail").URL)
			return s, b
		}, 502, reasonProviderFailed},
		{"login issuer refuses", func(t *testing.T, r *rig) (int, string) {
			r.idp.SetUser("")
			s, _, b := get(t, browser(t, true), r.elicit("alice", "mail").URL)
			return s, b
		}, 502, reasonLoginFailed},
		{"API key with a spent CSRF token", func(t *testing.T, r *rig) (int, string) {
			c := browser(t, true)
			_, _, body := get(t, c, r.elicit("alice", "keys").URL)
			m := csrfField.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no form: %s", body)
			}
			post(t, c, r.base+"/connect/api-key", url.Values{"state": {m[1]}, "api_key": {"wrong"}})
			s, _, b := post(t, c, r.base+"/connect/api-key", url.Values{"state": {m[1]}, "api_key": {"kk_12345678"}})
			return s, b
		}, 400, reasonStateMismatch},
		{"API key form posted from another browser", func(t *testing.T, r *rig) (int, string) {
			_, _, body := get(t, browser(t, true), r.elicit("alice", "keys").URL)
			m := csrfField.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no form: %s", body)
			}
			s, _, b := post(t, browser(t, true), r.base+"/connect/api-key", url.Values{"state": {m[1]}, "api_key": {"kk_12345678"}})
			return s, b
		}, 400, reasonCookieMissing},
	}
}

// TestBrowserRefusals: every mismatch ends on the stable error page with
// its reason, and nothing is stored for alice.
func TestBrowserRefusals(t *testing.T) {
	for _, tc := range append(linkRefusals(), flowRefusals()...) {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.idp.SetUser("alice")
			r.prov.SetUser("alice@mail")
			status, body := tc.run(t, r)
			if status != tc.status || !strings.Contains(body, "<code>"+tc.reason+"</code>") {
				t.Errorf("status %d, page %s; want %d with reason %s", status, body, tc.status, tc.reason)
			}
			for _, p := range []string{"mail", "keys"} {
				if _, ok := r.stored("alice", p); ok {
					t.Errorf("a %s credential was stored for alice", p)
				}
			}
			if len(r.observed) == 0 || r.observed[len(r.observed)-1] != "refused:"+tc.reason {
				t.Errorf("observed %v; want refused:%s last", r.observed, tc.reason)
			}
		})
	}
}

// TestBrowserLinkSingleUse: a completed link cannot be opened again.
func TestBrowserLinkSingleUse(t *testing.T) {
	r := newRig(t)
	r.idp.SetUser("alice")
	r.prov.SetUser("alice@mail")
	e := r.elicit("alice", "mail")
	if s, _, b := get(t, browser(t, true), e.URL); s != http.StatusOK {
		t.Fatalf("first use: %d %s", s, b)
	}
	if s, _, b := get(t, browser(t, true), e.URL); s != http.StatusBadRequest || !strings.Contains(b, reasonLinkInvalid) {
		t.Fatalf("second use: %d %s; want 400 %s", s, b, reasonLinkInvalid)
	}
}

// TestBrowserProviderRedirectMismatch: a provider that has another redirect
// URI registered refuses to redirect back; nothing is stored.
func TestBrowserProviderRedirectMismatch(t *testing.T) {
	r := newRig(t)
	r.idp.SetUser("alice")
	r.prov.SetUser("alice@mail")
	r.prov.SetRedirectURI("https://elsewhere.example/connect/callback/provider")
	s, final, b := get(t, browser(t, true), r.elicit("alice", "mail").URL)
	if s != http.StatusBadRequest || !strings.HasPrefix(final, r.prov.URL) || !strings.Contains(b, "redirect_uri mismatch") {
		t.Fatalf("got %d at %s: %s", s, final, b)
	}
	if _, ok := r.stored("alice", "mail"); ok {
		t.Fatal("stored without the provider's consent")
	}
}

// TestBrowserLinkSpentOnlyByItsUser: opening a link (a link preview) or a
// refused login by another user does not spend it; of two flows opened
// from one link only the first login of its user goes on.
func TestBrowserLinkSpentOnlyByItsUser(t *testing.T) {
	r := newRig(t)
	r.prov.SetUser("alice@mail")
	e := r.elicit("alice", "mail")
	hop(t, browser(t, false), e.URL) // a link preview
	r.idp.SetUser("bob")
	if s, _, b := get(t, browser(t, true), e.URL); s != http.StatusForbidden || !strings.Contains(b, reasonSubjectMismatch) {
		t.Fatalf("bob: %d %s", s, b)
	}
	r.idp.SetUser("alice")
	first, second := browser(t, false), browser(t, false)
	cb1, cb2 := toLoginCallback(t, first, e.URL), toLoginCallback(t, second, e.URL)
	first.CheckRedirect = nil
	if s, _, b := get(t, first, cb1); s != http.StatusOK || !strings.Contains(b, "return to your client") {
		t.Fatalf("first flow: %d %s", s, b)
	}
	if s, _, b := get(t, second, cb2); s != http.StatusBadRequest || !strings.Contains(b, "<code>"+reasonLinkInvalid+"</code>") {
		t.Fatalf("second flow of the spent link: %d %s", s, b)
	}
	if got := r.prov.Issued(); len(got) != 1 {
		t.Fatalf("provider issued %d tokens; want 1", len(got))
	}
}
