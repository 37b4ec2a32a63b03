package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/credstore"
	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

// writeCredKey writes a fresh AES-256 key file and returns its path.
func writeCredKey(t testing.TB, dir string) string {
	t.Helper()
	k := make([]byte, credstore.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "credentials.key")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// connectOnly parses a service config whose connect section is extra and
// returns that section with defaults applied, as serve would see it.
func connectOnly(t testing.TB, extra string) config.Connect {
	t.Helper()
	cfg, err := config.Parse([]byte(e2eConfig + extra))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	return cfg.Connect
}

func openStore(t testing.TB, c config.Connect) *credstore.Store {
	t.Helper()
	s, err := credstore.Open(c)
	if err != nil {
		t.Fatalf("credstore.Open: %v", err)
	}
	return s
}

var (
	credAlice  = credstore.Key{Issuer: e2eIssuer, Subject: "alice", Provider: "mail"}
	credSecret = credstore.Credential{
		AccessToken: "mail-access-Z3kQp9TT1x", RefreshToken: "mail-refresh-Hh82LmQ0", Scopes: []string{"mail.read"},
		ExpiresAt: time.Unix(2000000000, 0).UTC(), CreatedAt: time.Unix(1900000000, 0).UTC(),
	}
)

func connectYAML(dir, keyFile, redisAddr string) string {
	y := "\nproviders:\n  - {name: mail, kind: api_key}\nconnect:\n  client_id: mcp-authz\n  encryption_key_file: " + keyFile + "\n"
	if redisAddr != "" {
		return y + "  redis: {addr: \"" + redisAddr + "\"}\n"
	}
	return y + "  state_dir: " + dir + "\n"
}

// TestCredentialStoreEncryptedAtRest: the raw database file holds none of the
// token bytes (neither plain nor base64), only sealed records.
func TestCredentialStoreEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	c := connectOnly(t, connectYAML(dir, writeCredKey(t, dir), ""))
	s := openStore(t, c)
	if err := s.Put(context.Background(), credAlice, credSecret); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, credstore.BoltFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{credSecret.AccessToken, credSecret.RefreshToken} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), "mail.read"} {
			if bytes.Contains(raw, []byte(form)) {
				t.Errorf("the store file holds %q in the clear", form)
			}
		}
	}
	if info, err := os.Stat(filepath.Join(dir, credstore.BoltFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("store file mode: %v %v", info.Mode(), err)
	}
}

// TestCredentialStoreSurvivesRestart: a credential written before a restart
// is read after it, and a revoked one stays revoked.
func TestCredentialStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	c := connectOnly(t, connectYAML(dir, writeCredKey(t, dir), ""))
	ctx := context.Background()
	s := openStore(t, c)
	bob := credstore.Key{Issuer: e2eIssuer, Subject: "bob", Provider: "mail"}
	for _, k := range []credstore.Key{credAlice, bob} {
		if err := s.Put(ctx, k, credSecret); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	s = openStore(t, c)
	got, err := s.Get(ctx, credAlice)
	if err != nil || got.AccessToken != credSecret.AccessToken || !got.ExpiresAt.Equal(credSecret.ExpiresAt) {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	if n, err := s.RevokeSubject(ctx, e2eIssuer, "bob"); err != nil || n != 1 {
		t.Fatalf("revoke bob: %d %v", n, err)
	}
	_ = s.Close()
	s = openStore(t, c)
	defer func() { _ = s.Close() }()
	if _, err := s.Get(ctx, bob); !errors.Is(err, credstore.ErrNotFound) {
		t.Fatalf("bob's revoked credential came back: %v", err)
	}
	if l, err := s.List(ctx, e2eIssuer, "alice"); err != nil || len(l) != 1 || l[0].Provider != "mail" {
		t.Fatalf("alice's list: %+v %v", l, err)
	}
}

// TestCredentialStoreRedisSharedByTwoInstances: two instances configured with
// the same real redis-server see each other's writes and revocations.
func TestCredentialStoreRedisSharedByTwoInstances(t *testing.T) {
	addr := redisproc.Start(t)
	dir := t.TempDir()
	c := connectOnly(t, connectYAML("", writeCredKey(t, dir), addr))
	ctx := context.Background()
	a, b := openStore(t, c), openStore(t, c)
	defer func() { _ = a.Close(); _ = b.Close() }()
	if err := a.Put(ctx, credAlice, credSecret); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, credAlice)
	if err != nil || got.AccessToken != credSecret.AccessToken {
		t.Fatalf("instance b: %+v %v", got, err)
	}
	if err := b.MarkStale(ctx, credAlice); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get(ctx, credAlice); !got.Stale {
		t.Fatal("instance a does not see b's stale mark")
	}
	if err := a.Revoke(ctx, credAlice); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, credAlice); !errors.Is(err, credstore.ErrNotFound) {
		t.Fatalf("instance b after a's revoke: %v", err)
	}
}
