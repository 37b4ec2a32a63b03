package identity

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestInheritKeySources: a Verifier built with Inherit (a configuration
// reload) takes over the remote key sources whose settings are unchanged,
// keys included, without fetching them again; the replaced Verifier's
// Close leaves them running. A successor that fails to build hands them
// back, and a changed setting builds a source of its own.
func TestInheritKeySources(t *testing.T) {
	k1, k2 := newECKey(t, "inh-1"), newECKey(t, "inh-2")
	ctx := context.Background()

	t.Run("taken over with its keys", func(t *testing.T) {
		srv := newJWKSServer(t, true, k1)
		f := newRemoteFixture(t, srv, nil)
		v, err := successorOf(f, nil)
		if err != nil {
			t.Fatalf("New(Inherit) = %v", err)
		}
		t.Cleanup(v.Close)
		if got := srv.hits.Load(); got != 1 {
			t.Errorf("key-set fetches = %d; want 1 (the first verifier's only)", got)
		}
		f.v.Close() // the replaced verifier goes away; the source must not
		f.v = v
		if err := f.verify(t, ctx, k1, issuerR); err != nil {
			t.Fatalf("Verify on the successor = %v; want ok (inherited keys)", err)
		}
		rotateAndVerify(t, f, srv, k1, k2)
	})

	t.Run("failed successor hands the sources back", func(t *testing.T) {
		srv := newJWKSServer(t, true, k1)
		f := newRemoteFixture(t, srv, nil)
		_, err := successorOf(f, func(c *Config) {
			c.Issuers = append(c.Issuers, IssuerConfig{Issuer: "https://broken.example.test", JWKSFile: filepath.Join(t.TempDir(), "absent.json")})
		})
		if err == nil {
			t.Fatal("New with an unreadable jwks_file = nil; want an error")
		}
		rotateAndVerify(t, f, srv, k1, k2) // the kept verifier's source still fetches
	})

	t.Run("changed settings build a new source", func(t *testing.T) {
		srv := newJWKSServer(t, true, k1)
		f := newRemoteFixture(t, srv, nil)
		v, err := successorOf(f, func(c *Config) { c.FetchTimeout = 20 * time.Second })
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		t.Cleanup(v.Close)
		if got := srv.hits.Load(); got != 2 {
			t.Errorf("key-set fetches = %d; want 2 (the successor fetched its own)", got)
		}
		f.v.Close()
		f.v = v
		if err := f.verify(t, ctx, k1, issuerR); err != nil {
			t.Fatalf("Verify on the successor = %v; want ok", err)
		}
	})
}

// rotateAndVerify publishes k2 beside k1 and verifies a k2 token once an
// on-demand refetch is allowed: only a running key source fetches it.
func rotateAndVerify(t *testing.T, f *remoteFixture, srv *jwksServer, k1, k2 testKey) {
	t.Helper()
	srv.set(jwksJSON(t, k1, k2), http.StatusOK, false)
	f.clock.Advance(31 * time.Second)
	if err := f.verify(t, context.Background(), k2, issuerR); err != nil {
		t.Fatalf("Verify(rotated key) = %v; want ok (the source refetched)", err)
	}
}

// successorOf builds f's Verifier anew with Inherit set, as a reload
// does, its configuration changed by edit.
func successorOf(f *remoteFixture, edit func(*Config)) (*Verifier, error) {
	cfg := f.v.cfg
	cfg.Issuers = append([]IssuerConfig(nil), cfg.Issuers...)
	cfg.Inherit = f.v
	if edit != nil {
		edit(&cfg)
	}
	return New(context.Background(), cfg)
}
