package connect

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// maxAPIKey bounds an API key typed into the form.
const maxAPIKey = 4096

// beginProvider starts the provider leg for the logged-in user: the
// provider's authorization code flow with PKCE and state, or the API-key form.
func (h *web) beginProvider(w http.ResponseWriter, r *http.Request, b *Binding) {
	p, ok := h.s.providers[b.Provider]
	if !ok {
		h.fail(w, r, refuse(reasonBadRequest, fmt.Errorf("provider %q is not configured", b.Provider)))
		return
	}
	state, err := randomID()
	if err != nil {
		h.fail(w, r, refuse(reasonInternal, err))
		return
	}
	if p.cfg.Kind == "api_key" {
		h.apiKeyForm(w, r, flow{Stage: stageAPIKey, State: state, Binding: b}, "")
		return
	}
	oc, err := h.providerConfig(r, p, b)
	if err != nil {
		h.fail(w, r, refuse(reasonProviderUnavailable, err))
		return
	}
	f := flow{Stage: stageProvider, State: state, Verifier: oauth2.GenerateVerifier(), Binding: b}
	if err := h.putFlow(r.Context(), w, f); err != nil {
		h.fail(w, r, putRefusal(err))
		return
	}
	http.Redirect(w, r, oc.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// providerConfig is the provider's OAuth client asking for the scopes the
// elicitation names (the provider's configured scopes when it names none).
func (h *web) providerConfig(r *http.Request, p *provider, b *Binding) (*oauth2.Config, error) {
	ctx, cancel := h.outbound(r.Context())
	defer cancel()
	oc, err := h.s.oauthConfig(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(b.Scopes) > 0 {
		oc.Scopes = b.Scopes
	}
	return oc, nil
}

// providerCallback completes the provider leg: state against the cookie's
// flow, the code exchanged with the PKCE verifier, the credential stored
// under (iss, sub, provider). Nothing is sent through the MCP client.
func (h *web) providerCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, rf := h.takeFlow(r, stageProvider, q.Get("state"))
	if rf != nil {
		h.fail(w, r, rf)
		return
	}
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		h.fail(w, r, refuse(reasonProviderFailed, fmt.Errorf("authorization response error %q", e)))
		return
	}
	p, rf := h.flowProvider(f)
	if rf != nil {
		h.fail(w, r, rf)
		return
	}
	oc, err := h.providerConfig(r, p, f.Binding)
	if err != nil {
		h.fail(w, r, refuse(reasonProviderUnavailable, err))
		return
	}
	ctx, cancel := h.outbound(r.Context())
	defer cancel()
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil || tok.AccessToken == "" {
		h.fail(w, r, refuse(reasonProviderFailed, err))
		return
	}
	h.store(w, r, f.Binding, credentialOf(tok, grantedScopes(tok, oc.Scopes), h.s.clock()))
}

// grantedScopes are the scopes the token response names (RFC 6749 section
// 5.1), else the ones requested.
func grantedScopes(tok *oauth2.Token, requested []string) []string {
	if s, ok := tok.Extra("scope").(string); ok && strings.TrimSpace(s) != "" {
		return strings.Fields(s)
	}
	return append([]string(nil), requested...)
}

// store saves the credential and shows the success page.
func (h *web) store(w http.ResponseWriter, r *http.Request, b *Binding, c credstore.Credential) {
	k := credstore.Key{Issuer: b.Issuer, Subject: b.Subject, Provider: b.Provider}
	if err := h.s.store.Put(r.Context(), k, c); err != nil {
		h.fail(w, r, refuse(reasonStoreUnavailable, err))
		return
	}
	h.clearCookie(w, h.flowCookie)
	h.observe("connected", "")
	h.log.Info("connect: credential stored", "provider", b.Provider)
	successPage(w, b.Provider)
}

// apiKeyForm stores f and renders the form that must echo its state.
func (h *web) apiKeyForm(w http.ResponseWriter, r *http.Request, f flow, msg string) {
	if err := h.putFlow(r.Context(), w, f); err != nil {
		h.fail(w, r, putRefusal(err))
		return
	}
	render(w, http.StatusOK, "apikey", page{Title: "Connect " + f.Binding.Provider, Provider: f.Binding.Provider,
		Action: h.s.baseURL + pathAPIKey, CSRF: f.State, Message: msg})
}

// apiKeySubmit takes the API key form: the CSRF token against the cookie's
// flow, the key against the provider's pattern (a mismatch shows the form
// again under a fresh token), then stores it.
func (h *web) apiKeySubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, refuse(reasonBadRequest, err))
		return
	}
	f, rf := h.takeFlow(r, stageAPIKey, r.PostForm.Get("state"))
	if rf != nil {
		h.fail(w, r, rf)
		return
	}
	p, rf := h.flowProvider(f)
	if rf != nil {
		h.fail(w, r, rf)
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("api_key"))
	if key == "" || len(key) > maxAPIKey || p.pattern == nil || !p.pattern.MatchString(key) {
		state, err := randomID()
		if err != nil {
			h.fail(w, r, refuse(reasonInternal, err))
			return
		}
		f.State = state
		h.apiKeyForm(w, r, f, "That is not a valid "+p.cfg.Name+" API key. Check it and try again.")
		return
	}
	h.store(w, r, f.Binding, credstore.Credential{AccessToken: key, Scopes: f.Binding.Scopes, CreatedAt: h.s.clock().UTC()})
}

// flowProvider is the configured provider a provider-leg flow is for.
func (h *web) flowProvider(f flow) (*provider, *refusal) {
	if f.Binding == nil {
		return nil, refuse(reasonBadRequest, errors.New("provider flow without a binding"))
	}
	p, ok := h.s.providers[f.Binding.Provider]
	if !ok {
		return nil, refuse(reasonBadRequest, fmt.Errorf("provider %q is not configured", f.Binding.Provider))
	}
	return p, nil
}

// storeRefusal maps a failed read of a single-use record.
func storeRefusal(err error, notFound string) *refusal {
	if errors.Is(err, credstore.ErrNotFound) {
		return refuse(notFound, err)
	}
	return refuse(reasonStoreUnavailable, err)
}

// putRefusal maps a failed flow record write.
func putRefusal(err error) *refusal {
	if errors.Is(err, errBusy) {
		return refuse(reasonBusy, err)
	}
	return refuse(reasonStoreUnavailable, err)
}

func unix(s int64) time.Time { return time.Unix(s, 0) }
