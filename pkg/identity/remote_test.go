package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

const issuerR = "https://remote-auth.example.test"

// jwksServer is a loopback HTTPS JWKS endpoint whose answers tests change.
type jwksServer struct {
	srv     *httptest.Server
	hits    atomic.Int32
	mu      sync.Mutex
	body    []byte
	status  int
	slow    bool
	release chan struct{}
}

// newJWKSServer starts a TLS server serving keys at /jwks, a discovery
// document at /.well-known/openid-configuration, a same-host redirect at
// /moved and a cross-host redirect at /elsewhere.
func newJWKSServer(t *testing.T, tls bool, keys ...testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{body: jwksJSON(t, keys...), status: http.StatusOK, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", s.serveJWKS)
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/jwks", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://localhost:"+r.URL.Port()+"/jwks", http.StatusFound)
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := r.URL.Query().Get("iss")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": s.srv.URL + "/jwks"})
	})
	if tls {
		s.srv = httptest.NewTLSServer(mux)
	} else {
		s.srv = httptest.NewServer(mux)
	}
	t.Cleanup(func() {
		close(s.release)
		s.srv.Close()
	})
	return s
}

func (s *jwksServer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, status, slow := s.body, s.status, s.slow
	s.mu.Unlock()
	if slow {
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// set changes what /jwks answers.
func (s *jwksServer) set(body []byte, status int, slow bool) {
	s.mu.Lock()
	s.body, s.status, s.slow = body, status, slow
	s.mu.Unlock()
}

// caFile writes the server's certificate as a PEM CA bundle ("" for a
// plain HTTP server).
func (s *jwksServer) caFile(t *testing.T) string {
	t.Helper()
	if s.srv.TLS == nil {
		return ""
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	must(t, os.WriteFile(p, pemBytes, 0o600))
	return p
}

// remoteFixture is a Verifier with issuer R (remote) and issuer B (file).
type remoteFixture struct {
	clock *fakeClock
	srv   *jwksServer
	b     testKey
	v     *Verifier
}

func newRemoteFixture(t *testing.T, srv *jwksServer, edit func(*Config)) *remoteFixture {
	t.Helper()
	return newRemoteFixtureCtx(t, context.Background(), srv, edit)
}

// newRemoteFixtureCtx is newRemoteFixture with the context given to New.
func newRemoteFixtureCtx(t *testing.T, ctx context.Context, srv *jwksServer, edit func(*Config)) *remoteFixture {
	t.Helper()
	f := &remoteFixture{clock: newClock(), srv: srv, b: newECKey(t, kidB)}
	cfg := Config{
		Issuers: []IssuerConfig{
			{Issuer: issuerR, JWKSURL: srv.srv.URL + "/jwks", CAFile: srv.caFile(t)},
			{Issuer: issuerB, JWKSFile: writeJWKS(t, f.b)},
		},
		JWKSRefresh:        10 * time.Minute,
		MaxStaleness:       time.Hour,
		MinRefetchInterval: 30 * time.Second,
		FetchTimeout:       30 * time.Second,
		Clock:              f.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(v.Close)
	f.v = v
	return f
}

// verify presents a fresh token (new jti, so never cached) of k for iss.
func (f *remoteFixture) verify(t *testing.T, ctx context.Context, k testKey, iss string) error {
	t.Helper()
	claims := with(claimsFor(iss, resourceA), "jti", time.Now().String(), "exp", f.clock.Now().Add(time.Hour).Unix())
	_, err := f.v.Verify(ctx, Request{Authorization: bearer(sign(t, k, claims)), Resource: resourceA})
	return err
}

// statusOf returns the status of issuer iss.
func (f *remoteFixture) statusOf(iss string) IssuerStatus {
	for _, s := range f.v.Status() {
		if s.Issuer == iss {
			return s
		}
	}
	return IssuerStatus{}
}

// waitFor polls cond until it holds; it fails the test after 30s. It waits
// for an event (a background fetch), it does not assert a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRemoteKeyRotation(t *testing.T) {
	k1, k2 := newECKey(t, "rot-1"), newECKey(t, "rot-2")
	srv := newJWKSServer(t, true, k1)
	f := newRemoteFixture(t, srv, nil)
	ctx := context.Background()
	if err := f.verify(t, ctx, k1, issuerR); err != nil {
		t.Fatalf("Verify(k1) = %v; want ok", err)
	}

	srv.set(jwksJSON(t, k1, k2), http.StatusOK, false)
	for range 20 { // unknown kid within MinRefetchInterval: no refetch storm
		if err := f.verify(t, ctx, k2, issuerR); !isDetail(err, detailUnknownKey) {
			t.Fatalf("Verify(k2 before refetch allowed) = %v; want %q", err, detailUnknownKey)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("JWKS fetches after 20 unknown-kid requests = %d; want 1", got)
	}

	f.clock.Advance(31 * time.Second)
	if err := f.verify(t, ctx, k2, issuerR); err != nil {
		t.Fatalf("Verify(k2 after rotation) = %v; want ok (unknown kid refetch)", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetches after rotation = %d; want 2", got)
	}

	srv.set(jwksJSON(t, k2), http.StatusOK, false)
	f.clock.Advance(11 * time.Minute) // older than JWKSRefresh: a request kicks a background refresh
	if err := f.verify(t, ctx, k2, issuerR); err != nil {
		t.Fatalf("Verify(k2) = %v; want ok", err)
	}
	waitFor(t, "background refresh dropping rot-1", func() bool { return f.statusOf(issuerR).Keys == 1 })
	if err := f.verify(t, ctx, k1, issuerR); !isDetail(err, detailUnknownKey) {
		t.Errorf("Verify(k1 after it left the set) = %v; want %q", err, detailUnknownKey)
	}
}

func TestRemoteEndpointDown(t *testing.T) {
	k1 := newECKey(t, "rot-1")
	srv := newJWKSServer(t, true, k1)
	f := newRemoteFixture(t, srv, nil)
	ctx := context.Background()
	srv.set([]byte("down"), http.StatusServiceUnavailable, false)

	f.clock.Advance(30 * time.Minute) // within MaxStaleness: the last good set serves
	if err := f.verify(t, ctx, k1, issuerR); err != nil {
		t.Fatalf("Verify(30m into outage) = %v; want ok", err)
	}
	waitFor(t, "failed refresh recorded", func() bool { return f.statusOf(issuerR).LastError != "" })

	f.clock.Advance(31 * time.Minute) // past MaxStaleness from the last good fetch
	err := f.verify(t, ctx, k1, issuerR)
	if got, detail := reasonOf(err); got != denial.IssuerUnavailable || detail != detailKeysStale {
		t.Errorf("Verify(61m into outage) = %v; want %q (%q)", err, denial.IssuerUnavailable, detailKeysStale)
	}
	if err := f.verify(t, ctx, f.b, issuerB); err != nil {
		t.Errorf("Verify(other issuer during outage) = %v; want ok", err)
	}
	if st := f.statusOf(issuerR); st.HasKeys || !st.Stale || !st.LastRefresh.Equal(t0) {
		t.Errorf("Status(%s) = %+v; want stale, no usable keys, LastRefresh %v", issuerR, st, t0)
	}
	if !f.v.Ready() {
		t.Errorf("Ready() = false; want true (issuer B still has keys)")
	}

	srv.set(jwksJSON(t, k1), http.StatusOK, false)
	f.clock.Advance(31 * time.Second)
	if err := f.verify(t, ctx, k1, issuerR); err != nil {
		t.Errorf("Verify(after recovery) = %v; want ok", err)
	}
	if st := f.statusOf(issuerR); !st.HasKeys || st.LastError != "" {
		t.Errorf("Status(%s) after recovery = %+v; want keys and no error", issuerR, st)
	}
}

func TestRemoteSlowEndpoint(t *testing.T) {
	k1, k2 := newECKey(t, "rot-1"), newECKey(t, "rot-2")
	tests := []struct {
		name      string
		slowAtNew bool
		key       testKey
	}{
		{name: "no key set yet", slowAtNew: true, key: k1},
		{name: "unknown kid refetch", key: k2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, true, k1)
			srv.set(jwksJSON(t, k1), http.StatusOK, tc.slowAtNew)
			// New waits for a slow endpoint only briefly; a first fetch that
			// must succeed gets all the time it needs, or a slow machine
			// would leave it in flight (then joined below, answering k1).
			newCtx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			if !tc.slowAtNew {
				newCtx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
			}
			defer cancel()
			f := newRemoteFixtureCtx(t, newCtx, srv, nil)
			if !tc.slowAtNew && !f.statusOf(issuerR).HasKeys {
				t.Fatalf("Status(%s) after New = %+v; want the first key set loaded", issuerR, f.statusOf(issuerR))
			}
			srv.set(nil, http.StatusOK, true)
			f.clock.Advance(31 * time.Second)
			ctx, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel2()
			err := f.verify(t, ctx, tc.key, issuerR)
			if got, detail := reasonOf(err); got != denial.IssuerUnavailable || detail != detailKeysFetchTimeout {
				t.Errorf("Verify(slow endpoint) = %v (%q); want %q (%q)", err, detail, denial.IssuerUnavailable, detailKeysFetchTimeout)
			}
		})
	}
}

func TestRemoteFetchRefused(t *testing.T) {
	k1 := newECKey(t, "rot-1")
	big := jwksJSON(t, k1)
	big = append(big[:len(big)-1], []byte(`,"pad":"`+strings.Repeat("x", 4096)+`"}`)...)
	tests := []struct {
		name      string
		path      string
		body      []byte
		noCA      bool
		wantError string
	}{
		{name: "oversized response", path: "/jwks", body: big, wantError: "exceeds 2048 bytes"},
		{name: "redirect to another host", path: "/elsewhere", wantError: "redirect to another host refused"},
		{name: "untrusted certificate", path: "/jwks", noCA: true, wantError: "certificate"},
		{name: "symmetric key published", path: "/jwks", body: []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), wantError: "private key material"},
		{name: "no usable key", path: "/jwks", body: []byte(`{"keys":[{"kty":"XYZ"}]}`), wantError: "no usable signature key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, true, k1)
			if tc.body != nil {
				srv.set(tc.body, http.StatusOK, false)
			}
			f := newRemoteFixture(t, srv, func(c *Config) {
				c.MaxJWKSBytes = 2048
				c.Issuers[0].JWKSURL = srv.srv.URL + tc.path
				if tc.noCA {
					c.Issuers[0].CAFile = ""
				}
			})
			if st := f.statusOf(issuerR); st.HasKeys || !strings.Contains(st.LastError, tc.wantError) {
				t.Errorf("Status(%s) = %+v; want no keys and an error containing %q", issuerR, st, tc.wantError)
			}
			if got, _ := reasonOf(f.verify(t, context.Background(), k1, issuerR)); got != denial.IssuerUnavailable {
				t.Errorf("Verify() reason = %q; want %q", got, denial.IssuerUnavailable)
			}
		})
	}
}

func TestRemoteSameHostRedirectAndDiscovery(t *testing.T) {
	k1 := newECKey(t, "rot-1")
	tests := []struct {
		name string
		edit func(ic *IssuerConfig, base string)
	}{
		{name: "same-host redirect", edit: func(ic *IssuerConfig, base string) { ic.JWKSURL = base + "/moved" }},
		{name: "discovery", edit: func(ic *IssuerConfig, base string) {
			ic.JWKSURL, ic.DiscoveryURL = "", base+"/.well-known/openid-configuration?iss="+issuerR
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, true, k1)
			f := newRemoteFixture(t, srv, func(c *Config) { tc.edit(&c.Issuers[0], srv.srv.URL) })
			if err := f.verify(t, context.Background(), k1, issuerR); err != nil {
				t.Errorf("Verify() = %v; want ok", err)
			}
		})
	}
}

func TestRemoteDiscoveryIssuerMismatch(t *testing.T) {
	srv := newJWKSServer(t, true, newECKey(t, "rot-1"))
	f := newRemoteFixture(t, srv, func(c *Config) {
		c.Issuers[0].JWKSURL, c.Issuers[0].DiscoveryURL = "", srv.srv.URL+"/.well-known/openid-configuration?iss=https://evil.test"
	})
	if st := f.statusOf(issuerR); st.HasKeys || !strings.Contains(st.LastError, "does not match") || st.Source != "discovery" {
		t.Errorf("Status(%s) = %+v; want discovery refused for issuer mismatch", issuerR, st)
	}
}

func TestInsecureHTTPLogsLoudly(t *testing.T) {
	k1 := newECKey(t, "rot-1")
	srv := newJWKSServer(t, false, k1)
	var logs bytes.Buffer
	f := newRemoteFixture(t, srv, func(c *Config) {
		c.Issuers[0] = IssuerConfig{Issuer: issuerR, JWKSURL: srv.srv.URL + "/jwks", InsecureHTTP: true}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if err := f.verify(t, context.Background(), k1, issuerR); err != nil {
		t.Errorf("Verify(plain http with InsecureHTTP) = %v; want ok", err)
	}
	if !strings.Contains(logs.String(), "[INSECURE CONFIG]") {
		t.Errorf("logs = %q; want [INSECURE CONFIG]", logs.String())
	}
}
