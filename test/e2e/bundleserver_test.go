package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// bundleServer serves one bundle revision in OPA's bundle protocol: ETag
// and If-None-Match (304), long polling (Prefer: wait=N, answered with
// OPA's bundle content type), and failure modes.
type bundleServer struct {
	mu      sync.Mutex
	etag    string
	body    []byte
	mode    string        // "", "fail", "slow"
	changed chan struct{} // closed when a new revision is published
	release chan struct{} // a slow answer waits for it
	n304    atomic.Int64
	srv     *httptest.Server
}

func newBundleServer(t *testing.T) *bundleServer {
	s := &bundleServer{changed: make(chan struct{}), release: make(chan struct{})}
	s.srv = httptest.NewServer(s)
	t.Cleanup(func() {
		s.setMode("")
		s.srv.Close()
	})
	return s
}

func (s *bundleServer) url() string { return s.srv.URL + "/bundles/mcp.tar.gz" }

// publish serves body as the current revision.
func (s *bundleServer) publish(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etag = fmt.Sprintf("%q", fmt.Sprintf("e%d", time.Now().UnixNano()))
	s.body = body
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *bundleServer) setMode(m string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == "slow" && m != "slow" {
		close(s.release)
		s.release = make(chan struct{})
	}
	s.mode = m
}

func (s *bundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode, etag, body, changed, release := s.mode, s.etag, s.body, s.changed, s.release
	s.mu.Unlock()
	switch mode {
	case "fail":
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case "slow":
		select { // held until the test ends the slow mode
		case <-release:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/vnd.openpolicyagent.bundles")
	if etag != "" && r.Header.Get("If-None-Match") == etag {
		select {
		case <-changed:
		case <-time.After(longPollWait(r)):
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
		etag, body = s.etag, s.body
		s.mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			s.n304.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("ETag", etag)
	_, _ = w.Write(body)
}

// longPollWait reads wait=N from the Prefer header (0 without it).
func longPollWait(r *http.Request) time.Duration {
	for _, p := range strings.Split(r.Header.Get("Prefer"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "wait="); ok {
			n, _ := strconv.Atoi(v)
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// signingKeys writes a fresh RSA key pair: private (signing) and public
// (verification) PEM files.
func signingKeys(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub.pem")
	writePEM(t, priv, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	writePEM(t, pub, "PUBLIC KEY", pubDER)
	return priv, pub
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// policyVariants are two policy directories: "allow" is policies/ as is;
// "deny" grants the admin role no tool, so alice's search_issues call is
// allowed by the first and denied (tool_not_allowed) by the second.
func policyVariants(t *testing.T) map[string]string {
	t.Helper()
	deny := t.TempDir()
	copyTree(t, "../../policies", deny)
	var data map[string]map[string]any
	b, err := os.ReadFile(filepath.Join(deny, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["mcp"]["roles"] = map[string]any{"admin": map[string]any{"tools": []any{}}}
	b, _ = json.Marshal(data)
	if err := os.WriteFile(filepath.Join(deny, "data.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"allow": "../../policies", "deny": deny}
}

// buildSigned builds the policy directory as a bundle of revision rev
// signed with key.
func buildSigned(t *testing.T, dir, rev, key string) []byte {
	t.Helper()
	b, err := policy.BuildBundle(dir, rev, &policy.SigningConfig{KeyFile: key})
	if err != nil {
		t.Fatalf("BuildBundle %s: %v", rev, err)
	}
	return b
}

// rawBundle is a bundle signed with key holding one module, src, as is
// (BuildBundle would refuse a broken one).
func rawBundle(t *testing.T, rev, key, src string) []byte {
	t.Helper()
	roots := []string{"mcp"}
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: rev, Roots: &roots},
		Modules:  []bundle.ModuleFile{{Path: "/mcp/authz/broken.rego", URL: "/mcp/authz/broken.rego", Raw: []byte(src)}},
		Data:     map[string]any{},
	}
	pem, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.GenerateSignature(bundle.NewSigningConfig(string(pem), "RS256", ""), "default", true); err != nil {
		t.Fatalf("sign: %v", err)
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).DisableFormat(true).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bundleConfig is the service config of a signed bundle from srv.
func bundleConfig(url, pub, persist, extra string) string {
	cfg := `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
policy:
  deadline: 5s
bundle:
  url: ` + url + `
  verification_key_file: ` + pub + `
  poll: {min_delay: 1s, max_delay: 2s, long_polling_timeout: 2s}
`
	if persist != "" {
		cfg += "  persist_dir: " + persist + "\n"
	}
	return cfg + extra
}

// waitFor polls cond until it holds or eventualBound passes (a bound, not
// a timing assertion: it only turns a hang into a failure).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventualBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func bundleField(t *testing.T, a *app.App, key string) any {
	t.Helper()
	_, body := readyz(t, a)
	b, _ := body["bundle"].(map[string]any)
	return b[key]
}

func searchAs(t *testing.T, client authv3.AuthorizationClient, tok string) *authv3.CheckResponse {
	t.Helper()
	return mustCheck(t, client, mcpPost{authorization: "Bearer " + tok, body: searchCallBody}.request())
}

func TestBundleServerRevisionsAndRefusals(t *testing.T) {
	dir := t.TempDir()
	key, pub := signingKeys(t, dir, "signer")
	otherKey, _ := signingKeys(t, dir, "other")
	v := policyVariants(t)
	srv := newBundleServer(t)
	srv.publish(buildSigned(t, v["allow"], "rev-1", key))
	a, client := startAppYAML(t, bundleConfig(srv.url(), pub, "", ""))
	tok := mintAccess(t, nil)
	waitFor(t, "rev-1 active", func() bool { return a.Engine().Revision() == "rev-1" })
	wantAllow(t, "rev-1", searchAs(t, client, tok))
	waitFor(t, "a 304 from the bundle server", func() bool { return srv.n304.Load() > 0 })

	srv.publish(buildSigned(t, v["deny"], "rev-2", key))
	waitFor(t, "rev-2 active", func() bool { return a.Engine().Revision() == "rev-2" })
	wantDeny(t, "rev-2", searchAs(t, client, tok), 200, "tool_not_allowed")

	for _, tc := range []struct {
		name, wantErr string
		serve         func()
	}{
		{"wrong signature", "verify", func() { srv.publish(buildSigned(t, v["allow"], "rev-forged", otherKey)) }},
		{"syntax error", "rego_parse_error", func() { srv.publish(rawBundle(t, "rev-broken", key, "package mcp.authz\n\ndecision := {\n")) }},
		{"compile error", "undefined function", func() {
			srv.publish(rawBundle(t, "rev-uncompilable", key, "package mcp.authz\n\ndecision := {\"allow\": nope(1), \"reason\": \"x\"}\n"))
		}},
		{"smoke query fails", "smoke", func() {
			srv.publish(rawBundle(t, "rev-undefined", key, "package mcp.authz\n\ndecision := {\"allow\": true, \"reason\": \"x\"} if input.mcp.method == \"never\"\n"))
		}},
		{"server failing", "answered 503", func() { srv.setMode("fail") }},
		{"slow server", "", func() { srv.setMode("slow") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bundleField(t, a, "refusals").(float64)
			tc.serve()
			if tc.wantErr != "" {
				// A download that fails (a bad signature, a parse error, a
				// 503) is fetched again at the next poll, so the previous
				// case's refusal may still be counted after tc.serve: wait
				// for this case's own error, not for any refusal.
				waitFor(t, "a refusal naming "+tc.wantErr, func() bool {
					msg, _ := bundleField(t, a, "last_error").(string)
					return bundleField(t, a, "refusals").(float64) > before && strings.Contains(msg, tc.wantErr)
				})
			}
			if rev := a.Engine().Revision(); rev != "rev-2" {
				t.Errorf("active revision %q after %s; want rev-2 kept", rev, tc.name)
			}
			wantDeny(t, tc.name+": last good keeps deciding", searchAs(t, client, tok), 200, "tool_not_allowed")
			srv.setMode("")
		})
	}
	srv.publish(buildSigned(t, v["allow"], "rev-3", key))
	waitFor(t, "rev-3 active", func() bool { return a.Engine().Revision() == "rev-3" })
	if msg := bundleField(t, a, "last_error"); msg != nil {
		t.Errorf("/readyz bundle.last_error %v after a good revision; want none", msg)
	}
	srv.srv.Close() // unreachable
	waitFor(t, "unreachable reported", func() bool {
		msg, _ := bundleField(t, a, "last_error").(string)
		return strings.Contains(msg, "unreachable")
	})
	wantAllow(t, "rev-3 serves while the server is gone", searchAs(t, client, tok))
}

func TestBundleServerRestartServesPersisted(t *testing.T) {
	dir := t.TempDir()
	key, pub := signingKeys(t, dir, "signer")
	persist := filepath.Join(dir, "persist")
	srv := newBundleServer(t)
	srv.publish(buildSigned(t, "../../policies", "rev-persisted", key))
	cfg := bundleConfig(srv.url(), pub, persist, "")
	a, _ := startAppYAML(t, cfg)
	waitFor(t, "rev-persisted active", func() bool { return a.Engine().Revision() == "rev-persisted" })
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	srv.srv.Close()
	b, client := startAppYAML(t, cfg)
	if rev := b.Engine().Revision(); rev != "rev-persisted" {
		t.Fatalf("revision after a restart with the server down %q; want the persisted rev-persisted", rev)
	}
	wantAllow(t, "persisted bundle", searchAs(t, client, mintAccess(t, nil)))
}

func TestBundleServerSwapsUnderLoad(t *testing.T) {
	const swaps = 100
	dir := t.TempDir()
	key, pub := signingKeys(t, dir, "signer")
	v := policyVariants(t)
	bodies := make([][]byte, swaps+1)
	for i := range bodies { // built before the load starts
		variant := []string{"allow", "deny"}[i%2]
		bodies[i] = buildSigned(t, v[variant], fmt.Sprintf("%s-%d", variant, i), key)
	}
	srv := newBundleServer(t)
	srv.publish(bodies[0])
	logPath := filepath.Join(dir, "decisions.log")
	a, client := startAppYAML(t, bundleConfig(srv.url(), pub, "", "decision_log: {output: file, path: "+logPath+", buffer_records: 100000}\n"))
	waitFor(t, "allow-0 active", func() bool { return a.Engine().Revision() == "allow-0" })

	tok := mintAccess(t, nil)
	var failed, sent, answered, idle atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 { // a bounded loopback load: 2 workers, at most 20,000 Checks
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer idle.Add(1)
			for i := 0; i < 10000 && ctx.Err() == nil; i++ {
				sent.Add(1)
				req := mcpPost{authorization: "Bearer " + tok, body: searchCallBody, headers: map[string]string{"x-request-id": "load"}}
				cctx, cancel := context.WithTimeout(context.Background(), checkBound)
				resp, err := client.Check(cctx, req.request())
				cancel()
				if err != nil || (decision(resp) == "deny" && reasonOf(resp) != "tool_not_allowed") {
					failed.Add(1)
				}
				answered.Add(1)
			}
		}()
	}
	// answeredSince waits until a Check sent after this point was answered
	// (more answers than Checks sent so far), so the load is known to span
	// the revision active now, however the scheduler ran the workers.
	answeredSince := func(what string) {
		n := sent.Load()
		waitFor(t, "a Check answered under "+what, func() bool { return answered.Load() > n || idle.Load() == 2 })
	}
	answeredSince("allow-0")
	for i := 1; i <= swaps; i++ {
		srv.publish(bodies[i])
		want := fmt.Sprintf("%s-%d", []string{"allow", "deny"}[i%2], i)
		waitFor(t, want+" active", func() bool { return a.Engine().Revision() == want })
		if i == 1 {
			answeredSince(want)
		}
	}
	stop()
	wg.Wait()
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if f := failed.Load(); f != 0 {
		t.Errorf("%d of %d Checks failed (a gRPC error or a deny other than the policy's) during %d swaps", f, sent.Load(), swaps)
	}
	checkSwapRecords(t, logPath, sent.Load())
}

// checkSwapRecords checks every record's decision against the policy of
// the revision it names: allow-* allows alice's search, deny-* denies it.
func checkSwapRecords(t *testing.T, path string, sent int64) {
	t.Helper()
	revs := map[string]bool{}
	n := 0
	for _, r := range readRecords(t, path) {
		if r["request_id"] != "load" {
			continue
		}
		n++
		rev, _ := r["bundle_revision"].(string)
		revs[rev] = true
		want := "deny"
		if strings.HasPrefix(rev, "allow-") {
			want = "allow"
		}
		if r["decision"] != want {
			t.Errorf("record of revision %q decided %v (%v); its policy gives %s", rev, r["decision"], r["reason"], want)
		}
	}
	if int64(n) != sent {
		t.Errorf("%d records for %d Checks", n, sent)
	}
	if len(revs) < 2 {
		t.Errorf("the load saw %d revisions; want it to span swaps", len(revs))
	}
}

func TestBundleServerPathBundleReloads(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, "../../policies", dir)
	cfg := strings.Replace(testConfig, "policy:\n", "bundle:\n  path: "+dir+"\npolicy:\n", 1)
	a, client := startAppYAML(t, cfg)
	tok := mintAccess(t, nil)
	first := a.Engine().Revision()
	wantAllow(t, "first revision", searchAs(t, client, tok))

	deny, err := os.ReadFile(filepath.Join(policyVariants(t)["deny"], "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), deny, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changed directory activated", func() bool { return a.Engine().Revision() != first })
	wantDeny(t, "reloaded revision", searchAs(t, client, tok), 200, "tool_not_allowed")
	second := a.Engine().Revision()

	// A check that caught data.json half written may already have counted
	// a refusal (and the activation after it cleared last_error): wait for
	// one more, the broken file's.
	before := bundleField(t, a, "refusals").(float64)
	if err := os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package mcp.authz\n\ndecision := {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broken bundle refused", func() bool { return bundleField(t, a, "refusals").(float64) > before })
	if rev := a.Engine().Revision(); rev != second {
		t.Errorf("revision %q after a broken edit; want %q kept", rev, second)
	}
	wantDeny(t, "last good revision", searchAs(t, client, tok), 200, "tool_not_allowed")
	if msg, _ := bundleField(t, a, "last_error").(string); msg == "" {
		t.Errorf("/readyz bundle.last_error is empty after a refused edit")
	}
}
