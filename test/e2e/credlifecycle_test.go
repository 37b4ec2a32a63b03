package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// The credential lifecycle end to end: an expired credential refreshed once
// however many calls need it, and an upstream refusal that makes the next
// call refresh or elicit again.

// mailTokenEndpoint is the third party's OAuth token endpoint on loopback:
// it counts refresh grants and answers mail-at-<n> with a rotated
// mail-rt-<n>, or 400 invalid_grant when refusing.
type mailTokenEndpoint struct {
	URL    string
	grants atomic.Int32
	refuse atomic.Bool
	mu     sync.Mutex
	spent  []string
}

// spentFirst is the refresh token the first grant presented.
func (e *mailTokenEndpoint) spentFirst() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.spent) == 0 {
		return ""
	}
	return e.spent[0]
}

func startMailTokenEndpoint(t *testing.T) *mailTokenEndpoint {
	t.Helper()
	e := &mailTokenEndpoint{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		n := e.grants.Add(1)
		e.mu.Lock()
		e.spent = append(e.spent, r.PostForm.Get("refresh_token"))
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if e.refuse.Load() {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("mail-at-%d", n),
			"refresh_token": fmt.Sprintf("mail-rt-%d", n), "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL + "/token"
	return e
}

// oauthMailProvider is the providers entry of an oauth2 mail provider whose
// token endpoint is tokenURL.
func oauthMailProvider(tokenURL string) string {
	return "  - {name: mail, kind: oauth2, client_id: mail-client, authorization_endpoint: 'https://mail.example.test/authorize', " +
		"token_endpoint: '" + tokenURL + "', scopes: [mail.read]}\n"
}

// putAliceMail stores alice's mail credential, as the connect flow would.
func putAliceMail(t *testing.T, s *mcpharness.Stack, c credstore.Credential) {
	t.Helper()
	k := credstore.Key{Issuer: e2eIssuer, Subject: "alice", Provider: "mail"}
	if err := s.App.Connect().Store().Put(context.Background(), k, c); err != nil {
		t.Fatal(err)
	}
}

func aliceMail(t *testing.T, s *mcpharness.Stack) credstore.Credential {
	t.Helper()
	c, err := s.App.Connect().Store().Get(context.Background(), credstore.Key{Issuer: e2eIssuer, Subject: "alice", Provider: "mail"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// aliceSession is a new 2025-11-25 session of alice's that declares URL elicitation.
func aliceSession(ctx context.Context, t *testing.T, s *mcpharness.Stack, base http.RoundTripper) *mcp.ClientSession {
	t.Helper()
	cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, "alice", "admin"), mcpharness.ClientOptions{
		ProtocolVersion: "2025-11-25", Client: urlClient(&elicitRecorder{}), DisableStandaloneSSE: true, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// callAllAtOnce runs search_issues on every session at once (a start
// barrier) and returns each call's error.
func callAllAtOnce(ctx context.Context, sessions []*mcp.ClientSession) []error {
	start := make(chan struct{})
	errs := make([]error, len(sessions))
	var wg sync.WaitGroup
	for i, cs := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = callSearch(ctx, cs)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// wantElicitation fails unless err is the 2025-11-25 URLElicitationRequired error.
func wantElicitation(t *testing.T, err error, when string) {
	t.Helper()
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeURLElicitationRequired {
		t.Fatalf("%s: got %v; want -32042 (elicit again)", when, err)
	}
}

// TestCredentialStoreRefreshSingleflight: alice's mail credential has
// expired; N of her calls arrive at once (a start barrier) and each needs
// it. The provider's token endpoint sees exactly one refresh grant, every
// call succeeds, the upstream receives the new token on each, and the store
// keeps the rotated refresh token. A refused refresh then makes the next
// call elicit.
func TestCredentialStoreRefreshSingleflight(t *testing.T) {
	const n = 8
	tokens := startMailTokenEndpoint(t)
	s, _ := connectStack(t, connectStackConfig(t, oauthMailProvider(tokens.URL), ""), false)
	ctx := testCtx(t)
	putAliceMail(t, s, credstore.Credential{AccessToken: "mail-at-0", RefreshToken: "mail-rt-0", Scopes: []string{"mail.read"},
		ExpiresAt: time.Now().Add(-time.Hour)})
	sessions := make([]*mcp.ClientSession, n)
	for i := range sessions {
		sessions[i] = aliceSession(ctx, t, s, nil)
	}
	for i, err := range callAllAtOnce(ctx, sessions) {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if g := tokens.grants.Load(); g != 1 || tokens.spentFirst() != "mail-rt-0" {
		t.Fatalf("refresh grants = %d spending %q; want exactly 1 for %d concurrent calls, spending mail-rt-0", g, tokens.spentFirst(), n)
	}
	hs := s.Upstream.Headers()
	if len(hs) != n {
		t.Fatalf("upstream saw %d calls; want %d", len(hs), n)
	}
	for i, h := range hs {
		if got := h.Get("x-mcp-connection-mail"); got != "mail-at-1" {
			t.Errorf("upstream call %d carried %q; want the refreshed mail-at-1", i, got)
		}
	}
	if c := aliceMail(t, s); c.AccessToken != "mail-at-1" || c.RefreshToken != "mail-rt-1" || c.Stale {
		t.Fatalf("stored: access %q refresh %q stale %v; want mail-at-1, the rotated mail-rt-1", c.AccessToken, c.RefreshToken, c.Stale)
	}
	// The provider now refuses refreshes: once the token expires, the call elicits.
	tokens.refuse.Store(true)
	putAliceMail(t, s, credstore.Credential{AccessToken: "mail-at-1", RefreshToken: "mail-rt-1", Scopes: []string{"mail.read"},
		ExpiresAt: time.Now().Add(-time.Minute)})
	wantElicitation(t, callSearch(ctx, sessions[0]), "after a refused refresh")
	if c := aliceMail(t, s); !c.Stale || c.RefreshToken != "" {
		t.Fatalf("after a refused refresh: stale %v, refresh token kept %v; want stale without it", c.Stale, c.RefreshToken != "")
	}
	wantElicitation(t, callSearch(ctx, sessions[1]), "the call after")
	if g := tokens.grants.Load(); g != 2 {
		t.Fatalf("refresh grants = %d; want 2 (a refused refresh token is not spent again)", g)
	}
}

// thirdParty is the upstream's view of the third party: the mail tokens it
// refuses (answered HTTP 401 without a challenge, as a server passing on the
// third party's refusal) and those it flags (answered normally, with
// x-mcp-connection-stale: mail).
type thirdParty struct {
	mu      sync.Mutex
	refused map[string]bool
	flagged map[string]bool
}

func (p *thirdParty) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("x-mcp-connection-mail")
		p.mu.Lock()
		refused, flagged := p.refused[tok], p.flagged[tok]
		p.mu.Unlock()
		switch {
		case refused:
			http.Error(w, "mail refused the credential", http.StatusUnauthorized)
			return
		case flagged:
			w.Header().Set("X-Mcp-Connection-Stale", "mail")
		}
		next.ServeHTTP(w, r)
	})
}

// procStack is connectStack with the ext_proc filter after ext_authz, as
// examples/envoy/envoy.yaml configures it, and the upstream behind p.
func procStack(t *testing.T, cfg string, p *thirdParty) *mcpharness.Stack {
	t.Helper()
	late := &lateProc{}
	s := mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:   cfg,
		Upstream: mcpharness.UpstreamOptions{RegistryFile: registryFile, Wrap: p.wrap},
		Gate: func(c *envoyshim.Config) {
			c.ExtProc = &envoyshim.ExtProcConfig{Client: late, MessageTimeout: 10 * time.Second,
				ForwardNamespaces: []string{extAuthzNamespace},
				Mode: &filterv3.ProcessingMode{RequestHeaderMode: filterv3.ProcessingMode_SEND,
					ResponseHeaderMode: filterv3.ProcessingMode_SEND, ResponseBodyMode: filterv3.ProcessingMode_STREAMED}}
		},
	})
	late.set(envoyshim.ExtProcClient(envoyshim.Dial(t, s.App.Addr("grpc"))))
	return s
}

// staleSeen records whether any response the client received carried the
// stale header.
type staleSeen struct{ seen atomic.Bool }

func (s *staleSeen) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.Header.Get("x-mcp-connection-stale") != "" {
		s.seen.Store(true)
	}
	return resp, err
}

func callSearch(ctx context.Context, cs *mcp.ClientSession) error {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	if err == nil && res.IsError {
		return errors.New("tool error result")
	}
	return err
}

// TestCredentialStoreStaleOnUpstream401: through both filters, the upstream
// answering 401 (no challenge) to a call that carried alice's mail
// credential marks it stale. An API key cannot be refreshed: the next call
// elicits. An OAuth credential is refreshed on the next call, which then
// succeeds with the new token. The same holds for a response that names the
// provider in x-mcp-connection-stale, a header the client never sees.
func TestCredentialStoreStaleOnUpstream401(t *testing.T) {
	t.Run("api key elicits", func(t *testing.T) {
		p := &thirdParty{refused: map[string]bool{"mk_revoked0001": true}}
		s := procStack(t, connectStackConfig(t, "", ""), p)
		ctx := testCtx(t)
		putAliceMail(t, s, credstore.Credential{AccessToken: "mk_revoked0001", Scopes: []string{"mail.read"}})
		if err := callSearch(ctx, aliceSession(ctx, t, s, nil)); err == nil {
			t.Fatal("the refused call succeeded")
		}
		if c := aliceMail(t, s); !c.Stale {
			t.Fatal("the upstream's 401 did not mark the credential stale")
		}
		wantElicitation(t, callSearch(ctx, aliceSession(ctx, t, s, nil)), "the call after the 401")
	})
	t.Run("oauth refreshes", func(t *testing.T) {
		tokens := startMailTokenEndpoint(t)
		p := &thirdParty{refused: map[string]bool{"mail-at-0": true}}
		s := procStack(t, connectStackConfig(t, oauthMailProvider(tokens.URL), ""), p)
		ctx := testCtx(t)
		putAliceMail(t, s, credstore.Credential{AccessToken: "mail-at-0", RefreshToken: "mail-rt-0", Scopes: []string{"mail.read"},
			ExpiresAt: time.Now().Add(time.Hour)})
		cs := aliceSession(ctx, t, s, nil)
		if err := callSearch(ctx, cs); err == nil {
			t.Fatal("the refused call succeeded")
		}
		if c := aliceMail(t, s); !c.Stale || c.RefreshToken != "mail-rt-0" {
			t.Fatalf("after the 401: stale %v, refresh token kept %v; want stale, kept", c.Stale, c.RefreshToken == "mail-rt-0")
		}
		if err := callSearch(ctx, aliceSession(ctx, t, s, nil)); err != nil {
			t.Fatalf("the call after the 401: %v; want a refresh and success", err)
		}
		hs := s.Upstream.Headers()
		if tokens.grants.Load() != 1 || len(hs) == 0 || hs[len(hs)-1].Get("x-mcp-connection-mail") != "mail-at-1" {
			t.Fatalf("grants %d, upstream calls %d; want one refresh and the call carrying mail-at-1", tokens.grants.Load(), len(hs))
		}
	})
	t.Run("stale header", func(t *testing.T) {
		p := &thirdParty{flagged: map[string]bool{"mk_flagged0001": true}}
		s := procStack(t, connectStackConfig(t, "", ""), p)
		ctx := testCtx(t)
		putAliceMail(t, s, credstore.Credential{AccessToken: "mk_flagged0001", Scopes: []string{"mail.read"}})
		seen := &staleSeen{}
		if err := callSearch(ctx, aliceSession(ctx, t, s, seen)); err != nil {
			t.Fatalf("the flagged call: %v; its response passes", err)
		}
		if seen.seen.Load() {
			t.Fatal("x-mcp-connection-stale reached the client")
		}
		if c := aliceMail(t, s); !c.Stale {
			t.Fatal("x-mcp-connection-stale did not mark the credential stale")
		}
		wantElicitation(t, callSearch(ctx, aliceSession(ctx, t, s, nil)), "the call after the stale header")
	})
}
