package connect

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// loginClient is this service's OIDC client at connect.login_issuer.
type loginClient struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// withClient makes golang.org/x/oauth2 and go-oidc use client.
func withClient(ctx context.Context, client *http.Client) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, client), client)
}

// loginClient discovers the login issuer once (go-oidc checks that its
// metadata names the same issuer) and keeps the client; a failure is
// retried on the next request.
func (h *web) loginClient(ctx context.Context) (*loginClient, error) {
	h.loginMu.Lock()
	defer h.loginMu.Unlock()
	if h.login != nil {
		return h.login, nil
	}
	cfg := h.s.cfg
	secret := ""
	if cfg.ClientSecretFile != "" {
		b, err := os.ReadFile(cfg.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("connect.client_secret_file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	// The provider keeps the client for its key set: no request deadline.
	p, err := oidc.NewProvider(withClient(context.WithoutCancel(ctx), h.client), cfg.LoginIssuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", cfg.LoginIssuer, err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	h.login = &loginClient{
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: secret, Endpoint: ep,
			RedirectURL: h.s.baseURL + pathLoginCB, Scopes: []string{oidc.ScopeOpenID}},
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: h.s.clock}),
	}
	return h.login, nil
}

// startElicitation opens a connect link: it reads the elicitation without
// using it up (a link preview or a wrong user does not spend it) and starts
// the login its user must complete as the same subject.
func (h *web) startElicitation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	b, rf := h.elicitation(r, id, h.s.store.PeekTemp)
	if rf != nil {
		h.fail(w, r, rf)
		return
	}
	if b.Issuer != h.s.cfg.LoginIssuer {
		h.fail(w, r, refuse(reasonIssuerMismatch, fmt.Errorf("elicitation issuer %q is not the login issuer", b.Issuer)))
		return
	}
	h.beginLogin(w, r, &b, id)
}

// elicitation reads (peek) or takes the elicitation id and checks its expiry.
func (h *web) elicitation(r *http.Request, id string, read func(context.Context, string, string, any) error) (Binding, *refusal) {
	if len(id) != idLen {
		return Binding{}, refuse(reasonLinkInvalid, nil)
	}
	var pe pendingElicitation
	if err := read(r.Context(), kindElicitation, id, &pe); err != nil {
		return Binding{}, storeRefusal(err, reasonLinkInvalid)
	}
	if !h.s.clock().Before(unix(pe.Exp)) {
		return Binding{}, refuse(reasonLinkInvalid, fmt.Errorf("elicitation expired"))
	}
	return pe.Binding, nil
}

// useElicitation takes the flow's elicitation once its user has logged in:
// of several flows opened from one link, only the first to get here goes on.
func (h *web) useElicitation(r *http.Request, f flow) *refusal {
	b, rf := h.elicitation(r, f.Elicitation, h.s.store.TakeTemp)
	if rf != nil {
		return rf
	}
	if b.Issuer != f.Binding.Issuer || b.Subject != f.Binding.Subject || b.Provider != f.Binding.Provider {
		return refuse(reasonLinkInvalid, fmt.Errorf("elicitation changed under the flow"))
	}
	return nil
}

// beginLogin redirects to the login issuer: authorization code with PKCE
// (S256), state and nonce, all held in a server-side flow record.
func (h *web) beginLogin(w http.ResponseWriter, r *http.Request, b *Binding, elicitation string) {
	lc, err := h.loginClient(r.Context())
	if err != nil {
		h.fail(w, r, refuse(reasonIssuerUnavailable, err))
		return
	}
	f := flow{Stage: stageLogin, Verifier: oauth2.GenerateVerifier(), Binding: b, Elicitation: elicitation}
	if f.State, err = randomID(); err == nil {
		f.Nonce, err = randomID()
	}
	if err != nil {
		h.fail(w, r, refuse(reasonInternal, err))
		return
	}
	if err := h.putFlow(r.Context(), w, f); err != nil {
		h.fail(w, r, putRefusal(err))
		return
	}
	http.Redirect(w, r, lc.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), http.StatusFound)
}

// loginCallback completes the login: state against the cookie's flow, the
// code exchanged with the PKCE verifier, the ID token verified (issuer,
// audience, expiry, signature by the issuer's JWKS, nonce), and the user
// must be the one the link was made for. Then the provider leg starts.
func (h *web) loginCallback(w http.ResponseWriter, r *http.Request) {
	f, rf := h.takeFlow(r, stageLogin, r.URL.Query().Get("state"))
	if rf != nil {
		h.fail(w, r, rf)
		return
	}
	iss, sub, rf := h.verifyLogin(r, f)
	if rf != nil {
		h.fail(w, r, rf)
		return
	}
	if f.Binding != nil && iss != f.Binding.Issuer {
		h.fail(w, r, refuse(reasonIssuerMismatch, nil))
		return
	}
	if f.Binding != nil && sub != f.Binding.Subject {
		h.fail(w, r, refuse(reasonSubjectMismatch, nil))
		return
	}
	if f.Binding != nil {
		if rf := h.useElicitation(r, f); rf != nil {
			h.fail(w, r, rf)
			return
		}
	}
	if err := h.setSession(w, iss, sub); err != nil {
		h.fail(w, r, refuse(reasonInternal, err))
		return
	}
	if f.Binding == nil {
		http.Redirect(w, r, h.s.baseURL+pathConnections, http.StatusSeeOther)
		return
	}
	h.beginProvider(w, r, f.Binding)
}

// verifyLogin exchanges the code and returns the verified issuer and subject.
func (h *web) verifyLogin(r *http.Request, f flow) (string, string, *refusal) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		return "", "", refuse(reasonLoginFailed, fmt.Errorf("authorization response error %q", e))
	}
	lc, err := h.loginClient(r.Context())
	if err != nil {
		return "", "", refuse(reasonIssuerUnavailable, err)
	}
	ctx, cancel := h.outbound(r.Context())
	defer cancel()
	tok, err := lc.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return "", "", refuse(reasonLoginFailed, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", "", refuse(reasonIDTokenInvalid, fmt.Errorf("token response without id_token"))
	}
	idt, err := lc.verifier.Verify(ctx, raw)
	if err != nil {
		return "", "", refuse(reasonIDTokenInvalid, err)
	}
	if !equal(idt.Nonce, f.Nonce) {
		return "", "", refuse(reasonIDTokenInvalid, fmt.Errorf("nonce mismatch"))
	}
	if idt.Subject == "" {
		return "", "", refuse(reasonIDTokenInvalid, fmt.Errorf("id_token without sub"))
	}
	return idt.Issuer, idt.Subject, nil
}
