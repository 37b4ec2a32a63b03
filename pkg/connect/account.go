package connect

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// session is the connections page's login: who (iss, sub), the CSRF token
// of its forms, and an expiry. It lives in a cookie sealed with a key only
// this service holds (derived from the store key), so it cannot be forged
// or read, and works on every replica sharing that key.
type session struct {
	Iss  string `json:"iss"`
	Sub  string `json:"sub"`
	CSRF string `json:"csrf"`
	Exp  int64  `json:"exp"`
}

// sessionAD binds a sealed session to its purpose.
var sessionAD = []byte("mcp-authz connect session v1")

// setSession seals a fresh session for (iss, sub) into its cookie.
func (h *web) setSession(w http.ResponseWriter, iss, sub string) error {
	csrf, err := randomID()
	if err != nil {
		return err
	}
	pt, err := json.Marshal(session{Iss: iss, Sub: sub, CSRF: csrf, Exp: h.s.clock().Add(sessionTTL).Unix()})
	if err != nil {
		return fmt.Errorf("connect: session: %w", err)
	}
	nonce := make([]byte, h.session.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("connect: session nonce: %w", err)
	}
	v := base64.RawURLEncoding.EncodeToString(h.session.Seal(nonce, nonce, pt, sessionAD))
	if len(v) > maxSessionCookie {
		return errors.New("connect: session cookie too large")
	}
	h.setCookie(w, h.sessionCookie, v, sessionTTL)
	return nil
}

// readSession opens the request's session; false when there is none or it
// does not open, is too large or expired.
func (h *web) readSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(h.sessionCookie)
	if err != nil || len(c.Value) > maxSessionCookie {
		return session{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	ns := h.session.NonceSize()
	if err != nil || len(raw) < ns {
		return session{}, false
	}
	pt, err := h.session.Open(nil, raw[:ns], raw[ns:], sessionAD)
	if err != nil {
		return session{}, false
	}
	var s session
	if json.Unmarshal(pt, &s) != nil || s.Iss == "" || s.Sub == "" || !h.s.clock().Before(unix(s.Exp)) {
		return session{}, false
	}
	return s, true
}

// connections lists the signed-in user's connections (providers, scopes,
// expiry; never a token); without a session it starts the login.
func (h *web) connections(w http.ResponseWriter, r *http.Request) {
	s, ok := h.readSession(r)
	if !ok {
		h.beginLogin(w, r, nil, "")
		return
	}
	list, err := h.s.store.List(r.Context(), s.Iss, s.Sub)
	if err != nil {
		h.fail(w, r, refuse(reasonStoreUnavailable, err))
		return
	}
	render(w, http.StatusOK, "connections", page{Title: "Your connections", Subject: s.Sub,
		Connections: list, Action: h.s.baseURL + pathRevoke, CSRF: s.CSRF})
}

// revoke deletes one of the signed-in user's connections; the form must
// carry the session's CSRF token.
func (h *web) revoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, refuse(reasonBadRequest, err))
		return
	}
	s, ok := h.readSession(r)
	if !ok {
		h.fail(w, r, refuse(reasonSessionRequired, nil))
		return
	}
	if !equal(s.CSRF, r.PostForm.Get("state")) {
		h.fail(w, r, refuse(reasonStateMismatch, nil))
		return
	}
	name := r.PostForm.Get("provider")
	if _, ok := h.s.providers[name]; !ok {
		h.fail(w, r, refuse(reasonBadRequest, fmt.Errorf("unknown provider %q", name)))
		return
	}
	if err := h.s.store.Revoke(r.Context(), credstore.Key{Issuer: s.Iss, Subject: s.Sub, Provider: name}); err != nil {
		h.fail(w, r, refuse(reasonStoreUnavailable, err))
		return
	}
	h.observe("revoked", "")
	http.Redirect(w, r, h.s.baseURL+pathConnections, http.StatusSeeOther)
}
