package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// reloadable is a running app started from a configuration file, driven
// through RunSignals with a channel the test feeds (never a signal to the
// test process).
type reloadable struct {
	app    *app.App
	client authv3.AuthorizationClient
	file   string
	sigs   chan os.Signal
	logs   *syncBuffer
}

// startReloadable writes yaml to a file and runs the app from it the way
// `mcp-authz serve` does: a JSON logger whose level is a slog.LevelVar,
// WithConfigFile and WithLogLevel, RunSignals until the test ends.
func startReloadable(t *testing.T, yaml string) *reloadable {
	t.Helper()
	r := &reloadable{file: filepath.Join(t.TempDir(), "config.yaml"), sigs: make(chan os.Signal, 1), logs: &syncBuffer{}}
	r.write(t, yaml)
	cfg, err := config.Load(r.file)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	level := new(slog.LevelVar)
	level.Set(app.LogLevel(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: level}))
	a, err := app.New(context.Background(), cfg, log, app.WithConfigFile(r.file), app.WithLogLevel(level))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.RunSignals(ctx, r.sigs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunSignals: %v", err)
		}
	})
	conn, err := grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.app, r.client = a, authv3.NewAuthorizationClient(conn)
	waitFor(t, "the startup line", func() bool { return r.logLine("mcp-authz serving") != nil })
	return r
}

func (r *reloadable) write(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(r.file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hup writes yaml, sends SIGHUP and waits until the reload was applied or
// refused; it returns /readyz's "config" then.
func (r *reloadable) hup(t *testing.T, yaml string) map[string]any {
	t.Helper()
	r.write(t, yaml)
	before := r.outcomes(t)
	r.sigs <- syscall.SIGHUP
	var st map[string]any
	waitFor(t, "the reload's outcome in /readyz", func() bool {
		_, body := readyz(t, r.app)
		st, _ = body["config"].(map[string]any)
		return st != nil && st["reloads"].(float64)+st["refusals"].(float64) > before
	})
	return st
}

// outcomes is reloads + refusals in /readyz.
func (r *reloadable) outcomes(t *testing.T) float64 {
	t.Helper()
	_, body := readyz(t, r.app)
	st, ok := body["config"].(map[string]any)
	if !ok {
		t.Fatalf("/readyz has no config status: %v", body["_raw"])
	}
	return st["reloads"].(float64) + st["refusals"].(float64)
}

// logLine returns the last log record with msg, or nil.
func (r *reloadable) logLine(msg string) map[string]any {
	var last map[string]any
	for _, line := range strings.Split(r.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			last = rec
		}
	}
	return last
}

// reloadBase is the started configuration: two hops, one issuer, info logs.
const reloadBase = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
log_level: info
shutdown: {lame_duck: 0s, timeout: 5s}
policy: {deadline: 5s}
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
`

const reloadHops = `resources:
  - {host: mcp.example.test, path: /mcp, resource: https://mcp.example.test/mcp}
  - {host: mcp.example.test, path: /b/mcp, resource: https://mcp.example.test/b/mcp}
`

// reloadNext adds an issuer, removes hop B and turns on debug logs.
const reloadNext = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
log_level: debug
shutdown: {lame_duck: 0s, timeout: 5s}
policy: {deadline: 5s}
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
  - issuer: https://auth2.example.test
    jwks_file: testdata/keys/jwks.json
resources:
  - {host: mcp.example.test, path: /mcp, resource: https://mcp.example.test/mcp}
`

// TestOperationsSIGHUPReload drives SIGHUP through RunSignals: a new issuer
// becomes accepted, a removed hop denies, the log level changes, and a bad
// configuration (a parse error, a restart-only change) is refused with the
// last good one still serving; every outcome is logged, counted and in
// /readyz.
func TestOperationsSIGHUPReload(t *testing.T) {
	r := startReloadable(t, reloadBase+reloadHops)
	start := r.logLine("mcp-authz serving")
	if is, _ := start["issuers"].([]any); len(is) != 1 || is[0] != e2eIssuer || start["grpc"] == "" || start["bundle"] == "" {
		t.Errorf("startup line %v; want listeners, bundle revision and the issuer", start)
	}
	tok2 := mintAccess(t, map[string]any{"iss": "https://auth2.example.test"})
	tokB := mintAccess(t, map[string]any{"aud": "https://mcp.example.test/b/mcp"})
	at := func(tok, path string) *authv3.CheckRequest {
		return mcpPost{path: path, authorization: "Bearer " + tok, body: toolsListBody}.request()
	}
	wantDeny(t, "new issuer before reload", mustCheck(t, r.client, at(tok2, "/mcp")), 401, "token_invalid")
	wantAllow(t, "hop B before reload", mustCheck(t, r.client, at(tokB, "/b/mcp")))
	if strings.Contains(r.logs.String(), `"level":"DEBUG"`) {
		t.Fatalf("debug lines at log_level info:\n%s", r.logs.String())
	}

	st := r.hup(t, reloadNext)
	if st["reloads"] != 1.0 || st["refusals"] != 0.0 || st["last_reload_at"] == nil {
		t.Fatalf("/readyz config after a good reload = %v; want 1 reload, 0 refusals", st)
	}
	checkReloaded(t, r, at, tok2, tokB)
	// Reload counts its outcome before it logs it: /readyz showing the
	// reload does not mean the line is written yet.
	waitFor(t, "the reload log line", func() bool { return r.logLine("configuration reloaded") != nil })
	if rec := r.logLine("configuration reloaded"); !strings.Contains(jsonText(rec["changed"]), "issuers") {
		t.Errorf("reload log line %v; want the changed keys", rec)
	}

	for i, bad := range []struct{ yaml, want string }{
		{reloadNext + "listen_typo: x\n", "listen_typo: unknown key"},
		{strings.Replace(reloadNext, "listen: 127.0.0.1:0", "listen: 127.0.0.1:1", 1), "listen: changed"},
		{reloadNext + "tls: {cert_file: c.pem, key_file: k.pem}\n", "tls: changed"},
	} {
		st = r.hup(t, bad.yaml)
		if st["refusals"] != float64(i+1) || st["reloads"] != 1.0 || !strings.Contains(st["last_error"].(string), bad.want) {
			t.Errorf("/readyz config after bad config %d = %v; want refusal %d naming %q", i, st, i+1, bad.want)
		}
		checkReloaded(t, r, at, tok2, tokB) // the last good configuration still serves
	}
	if code, body := readyz(t, r.app); code != 200 {
		t.Errorf("/readyz after refusals = %d %v; want 200 (the old configuration serves)", code, body["_raw"])
	}
	m := scrape(t, r.app.Addr("admin"))
	if metricValue(t, m, "mcp_authz_config_reloads_total") != 1 || metricValue(t, m, "mcp_authz_config_reload_refusals_total") != 3 {
		t.Errorf("reload metrics: want 1 reload and 3 refusals:\n%s", m)
	}
	waitFor(t, "a log line for the refused reloads", func() bool {
		return r.logLine("configuration reload refused; the running configuration keeps serving") != nil
	})
}

// checkReloaded checks reloadNext is the configuration serving.
func checkReloaded(t *testing.T, r *reloadable, at func(string, string) *authv3.CheckRequest, tok2, tokB string) {
	t.Helper()
	wantAllow(t, "new issuer after reload", mustCheck(t, r.client, at(tok2, "/mcp")))
	wantDeny(t, "removed hop B after reload", mustCheck(t, r.client, at(tokB, "/b/mcp")), 404, "path_not_found")
	if rec := r.logLine("deny"); rec == nil || rec["level"] != "DEBUG" || rec["reason"] != "path_not_found" {
		t.Errorf("debug deny line %v; want one at log_level debug", rec)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestOperationsSIGHUPReloadKeepsRemoteKeys reloads while the issuer's key
// set endpoint hangs: the unchanged remote issuer keeps the keys it
// fetched (the new verifier takes its key source over) instead of losing
// them to a first fetch that cannot succeed.
func TestOperationsSIGHUPReloadKeepsRemoteKeys(t *testing.T) {
	srv := newKeySetServer(t, keySetOf(t, testKeyWith(t)))
	yaml := `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
shutdown: {lame_duck: 0s, timeout: 5s}
policy: {deadline: 5s}
identity: {fetch_timeout: 10s, jwks_refresh: 1h, min_refetch_interval: 50ms} # the first fetch must succeed, also on a loaded machine
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_url: ` + srv.srv.URL + `/jwks.json?api_key=S3CRET-QUERY-VALUE
    ca_file: ` + srv.caFile(t) + `
`
	r := startReloadable(t, yaml)
	req := mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: toolsListBody}.request()
	wantAllow(t, "remote issuer before reload", mustCheck(t, r.client, req))

	srv.set(nil, true) // the IdP hangs from now on
	st := r.hup(t, yaml+"allowed_origins: [https://app.example.test]\n")
	if st["reloads"] != 1.0 {
		t.Fatalf("/readyz config = %v; want the reload applied\n%s", st, r.logs.String())
	}
	wantAllow(t, "remote issuer after reload, IdP hanging", mustCheck(t, r.client, req))
	if strings.Contains(r.logs.String(), "S3CRET") {
		t.Errorf("logs carry the key-set URL's query:\n%s", r.logs.String())
	}
}
