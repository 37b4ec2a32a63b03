package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sts is an in-process RFC 8693 token endpoint that validates the request
// parameters and answers with a token naming what it was asked for.
type sts struct {
	t        *testing.T
	requests atomic.Int64
	release  chan struct{} // when non-nil, each request waits for it
	reply    func(w http.ResponseWriter)
}

func (s *sts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.release != nil {
		<-s.release
	}
	if s.reply != nil {
		s.reply(w)
		return
	}
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || !ok || id != "mcp-authz" || secret != "s3cret" {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	want := map[string]string{"grant_type": grantTokenExchange, "subject_token_type": tokenTypeAccess,
		"requested_token_type": tokenTypeAccess, "subject_token": "caller-token"}
	for k, v := range want {
		if r.PostForm.Get(k) != v {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
	}
	if r.PostForm.Get("audience") == "" || r.PostForm.Get("audience") != r.PostForm.Get("resource") {
		http.Error(w, `{"error":"invalid_target"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": "x." + r.PostForm.Get("audience") + "." + r.PostForm.Get("scope"), "token_type": "Bearer",
		"issued_token_type": tokenTypeAccess, "expires_in": 300,
	})
}

func newExchange(t *testing.T, srv *httptest.Server, clock *fakeClock) *ExchangeClient {
	t.Helper()
	hc, err := NewExchangeHTTPClient(caFileOf(t, srv), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewExchangeClient(ExchangeConfig{Endpoint: srv.URL + "/token", ClientID: "mcp-authz", ClientSecret: "s3cret",
		HTTPClient: hc, Timeout: 2 * time.Second, CacheSize: 10, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// caFileOf writes the test server's certificate as a PEM CA file.
func caFileOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func exchangeReq(clock *fakeClock) ExchangeRequest {
	return ExchangeRequest{SubjectToken: "caller-token", Issuer: "https://auth.example.test", Subject: "alice",
		ClientID: "app", SubjectExpiry: clock.now.Add(time.Hour), Audience: "https://up.example.test/mcp", Scope: "issues:read"}
}

func TestExchangeCache(t *testing.T) {
	s := &sts{t: t}
	srv := httptest.NewTLSServer(s)
	defer srv.Close()
	clock := &fakeClock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	c := newExchange(t, srv, clock)
	r := exchangeReq(clock)
	tok, err := c.Exchange(context.Background(), r)
	if err != nil || tok != "x.https://up.example.test/mcp.issues:read" {
		t.Fatalf("Exchange() = %q, %v; want the STS's token for the audience and scope", tok, err)
	}
	clock.Advance(289 * time.Second) // 300 s lifetime minus the 10 s margin
	if _, _ = c.Exchange(context.Background(), r); s.requests.Load() != 1 {
		t.Errorf("%d requests within the cached lifetime; want 1", s.requests.Load())
	}
	other := r
	other.Scope = "issues:write"
	if _, _ = c.Exchange(context.Background(), other); s.requests.Load() != 2 {
		t.Errorf("another scope made %d requests in all; want 2", s.requests.Load())
	}
	clock.Advance(time.Second)
	if _, _ = c.Exchange(context.Background(), r); s.requests.Load() != 3 {
		t.Errorf("at expiry minus the margin: %d requests in all; want 3", s.requests.Load())
	}
	// The caller's token expires first: the exchanged one is not reused past it.
	short := r
	short.Subject, short.SubjectExpiry = "bob", clock.now.Add(30*time.Second)
	_, _ = c.Exchange(context.Background(), short)
	clock.Advance(30 * time.Second)
	if _, _ = c.Exchange(context.Background(), short); s.requests.Load() != 5 {
		t.Errorf("reuse past the subject token's exp: %d requests in all; want 5", s.requests.Load())
	}
}

// TestExchangeSingleflight: a burst of identical exchanges while the STS
// is answering costs one request.
func TestExchangeSingleflight(t *testing.T) {
	s := &sts{t: t, release: make(chan struct{})}
	srv := httptest.NewTLSServer(s)
	defer srv.Close()
	clock := &fakeClock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	c := newExchange(t, srv, clock)
	const burst = 16
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Exchange(context.Background(), exchangeReq(clock))
			errs <- err
		}()
	}
	for s.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(s.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Exchange() in a burst = %v", err)
		}
	}
	if n := s.requests.Load(); n != 1 {
		t.Errorf("a burst of %d made %d STS requests; want 1", burst, n)
	}
}

func TestExchangeRefuses(t *testing.T) {
	tests := []struct {
		name  string
		reply func(w http.ResponseWriter)
		want  string
	}{
		{"STS error", func(w http.ResponseWriter) { http.Error(w, `{"error":"invalid_grant"}`, 400) }, "status 400: invalid_grant"},
		{"redirect", func(w http.ResponseWriter) { w.Header().Set("Location", "https://evil.test/"); w.WriteHeader(302) }, "status 302"},
		{"not JSON", func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>")) }, "not a JSON object"},
		{"no token", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"token_type":"Bearer"}`)) }, "malformed access_token"},
		{"header injection", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"access_token":"a\r\nx-evil: 1","token_type":"Bearer"}`))
		}, "malformed access_token"},
		{"N_A token type", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"access_token":"a","token_type":"N_A"}`))
		}, "want Bearer"},
		{"refresh token issued", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"access_token":"a","token_type":"Bearer","issued_token_type":"urn:ietf:params:oauth:token-type:refresh_token"}`))
		}, "not an access token"},
		{"too large", func(w http.ResponseWriter) { _, _ = w.Write([]byte(strings.Repeat(" ", maxExchangeResponse+1))) }, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(&sts{t: t, reply: tc.reply})
			defer srv.Close()
			clock := &fakeClock{now: time.Now()}
			tok, err := newExchange(t, srv, clock).Exchange(context.Background(), exchangeReq(clock))
			if err == nil || !strings.Contains(err.Error(), tc.want) || tok != "" {
				t.Errorf("Exchange() = %q, %v; want an error containing %q", tok, err, tc.want)
			}
		})
	}
}

func TestExchangeUnauthenticatedClientFails(t *testing.T) {
	srv := httptest.NewTLSServer(&sts{t: t})
	defer srv.Close()
	clock := &fakeClock{now: time.Now()}
	c, err := NewExchangeClient(ExchangeConfig{Endpoint: srv.URL, ClientID: "mcp-authz", HTTPClient: srv.Client(), Timeout: time.Second, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exchange(context.Background(), exchangeReq(clock)); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("Exchange() without the secret = %v; want invalid_client", err)
	}
}

// TestExchangeTrustsOnlyItsCA: with ca_file set, an STS whose certificate
// another CA signed is refused (the user's token is never sent to it).
func TestExchangeTrustsOnlyItsCA(t *testing.T) {
	s := &sts{t: t}
	srv := httptest.NewTLSServer(s)
	defer srv.Close()
	hc, err := NewExchangeHTTPClient(otherCA(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	c, err := NewExchangeClient(ExchangeConfig{Endpoint: srv.URL, ClientID: "mcp-authz", ClientSecret: "s3cret", HTTPClient: hc, Timeout: time.Second, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exchange(context.Background(), exchangeReq(clock)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Exchange() with another CA's server = %v; want a certificate error", err)
	}
	if s.requests.Load() != 0 {
		t.Error("the untrusted server received the exchange")
	}
}

// otherCA writes a fresh self-signed CA certificate (not httptest's).
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
