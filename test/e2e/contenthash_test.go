package e2e

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// createCallBody calls create_issue with valid arguments.
const createCallBody = `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"create_issue","arguments":{"repo":"acme/api","title":"t"}}}`

// startFails builds the app from yaml and returns the error that refused it
// (nil when it started; it is then shut down).
func startFails(t *testing.T, yaml string) error {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		return err
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	a.Start()
	if err := a.Shutdown(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	return nil
}

// TestContentHashMismatchIsDrift pins a live go-sdk server's tool, then the
// server starts advertising a contentHash its definition does not have:
// the call is denied content_hash_mismatch although the definition itself
// still matches the pin. Advertising the true hash is allowed again.
func TestContentHashMismatchIsDrift(t *testing.T) {
	const approved = "Search issues by free text."
	up := newIssuesUpstream(t, approved)
	dir := driftBundle(t, up.http.URL)
	cfg := e2eConfig + "bundle:\n  path: " + dir + "\ndrift_watch:\n  - server: issues\n    url: " + up.http.URL + "\n    interval: 1s\n"
	_, client := startAppYAML(t, cfg)
	call := mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: searchCallBody}.request()
	if got := pollReason(t, client, call, "allowed"); got != "allowed" {
		t.Fatalf("search_issues before any contentHash: reason %q; want allowed", got)
	}

	lie := "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	up.advertise.Store(&lie)
	if got := pollReason(t, client, call, "content_hash_mismatch"); got != "content_hash_mismatch" {
		t.Fatalf("server advertising a wrong contentHash: reason %q; want content_hash_mismatch", got)
	}

	sd, err := registry.ReadServerFile(filepath.Join(dir, "mcp", "servers", "issues", "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	truth := sd.Tools["search_issues"].ContentHash
	up.advertise.Store(&truth)
	if got := pollReason(t, client, call, "allowed"); got != "allowed" {
		t.Errorf("server advertising its true contentHash %s: reason %q; want allowed", truth, got)
	}
}

// TestContentHashLegacyPinsLoad serves a bundle whose registry still carries
// only the deprecated hex sha256 pins: it loads and decides as before.
func TestContentHashLegacyPinsLoad(t *testing.T) {
	dir := copyPolicies(t)
	file := filepath.Join(dir, "mcp", "servers", "issues", "data.json")
	sd, err := registry.ReadServerFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range sd.Tools {
		if e.SHA256, err = registry.Hash(e.Manifest); err != nil {
			t.Fatal(err)
		}
		e.ContentHash = ""
		sd.Tools[name] = e
	}
	if err := registry.WriteServerFile(file, *sd); err != nil {
		t.Fatal(err)
	}
	_, client := startAppYAML(t, e2eConfig+"bundle:\n  path: "+dir+"\n")
	tok := mintAccess(t, nil)
	wantAllow(t, "search_issues with a hex pin", mustCheck(t, client, mcpPost{authorization: "Bearer " + tok, body: searchCallBody}.request()))
	bob := mintAccess(t, map[string]any{"sub": "bob", "roles": []string{"analyst"}})
	wantDeny(t, "analyst create_issue with hex pins",
		mustCheck(t, client, mcpPost{authorization: "Bearer " + bob, body: createCallBody}.request()), 200, "tool_not_allowed")
}

// TestContentHashDisagreeingPinsRefused: a bundle whose tool carries both
// pins naming different digests is refused at start.
func TestContentHashDisagreeingPinsRefused(t *testing.T) {
	dir := copyPolicies(t)
	file := filepath.Join(dir, "mcp", "servers", "issues", "data.json")
	sd, err := registry.ReadServerFile(file)
	if err != nil {
		t.Fatal(err)
	}
	e := sd.Tools["search_issues"]
	e.SHA256 = "0000000000000000000000000000000000000000000000000000000000000000"
	sd.Tools["search_issues"] = e
	if err := registry.WriteServerFile(file, *sd); err != nil {
		t.Fatal(err)
	}
	if err := startFails(t, e2eConfig+"bundle:\n  path: "+dir+"\n"); err == nil {
		t.Fatal("app with disagreeing content_hash and sha256 started; want it refused")
	}
}

// copyPolicies copies policies/ (Rego without tests, data.json and the
// registry files) into a temp dir and returns it.
func copyPolicies(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "policies")
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) == ".md" {
			return err
		}
		if m, _ := filepath.Match("*_test.rego", d.Name()); m {
			return nil
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
