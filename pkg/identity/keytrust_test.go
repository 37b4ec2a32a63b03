package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/identity/keyset"
)

// withPrivateMember returns the JWK Set of keys where key i also carries
// member (e.g. "d") with a value.
func withPrivateMember(t *testing.T, i int, member string, keys ...testKey) []byte {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	must(t, json.Unmarshal(jwksJSON(t, keys...), &set))
	set.Keys[i][member] = "AQAB"
	b, err := json.Marshal(set)
	must(t, err)
	return b
}

// TestRemoteSetWithPrivateMemberRefused: a fetched set publishing any
// private member is refused whole, counted and shown as the last error,
// while the last good set keeps serving; a clean set is then accepted.
func TestRemoteSetWithPrivateMemberRefused(t *testing.T) {
	k1, k2 := newECKey(t, "good-1"), newECKey(t, "leaked-2")
	for _, member := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		t.Run(member, func(t *testing.T) {
			srv := newJWKSServer(t, true, k1)
			var logs bytes.Buffer
			f := newRemoteFixture(t, srv, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
			srv.set(withPrivateMember(t, 1, member, k1, k2), http.StatusOK, false)
			f.clock.Advance(31 * time.Second)
			if err := f.verify(t, context.Background(), k2, issuerR); !isDetail(err, detailUnknownKey) {
				t.Errorf("Verify(key of the refused set) = %v; want %q", err, detailUnknownKey)
			}
			if err := f.verify(t, context.Background(), k1, issuerR); err != nil {
				t.Errorf("Verify(key of the last good set) = %v; want ok", err)
			}
			st := f.statusOf(issuerR)
			if !st.HasKeys || st.RefusedSets[refusedPrivate] != 1 || !strings.Contains(st.LastError, "private key material") {
				t.Errorf("Status = %+v; want keys, one refused set (private_material), last error naming it", st)
			}
			if !strings.Contains(logs.String(), "publishes private key material") || strings.Contains(logs.String(), `"AQAB"`) {
				t.Errorf("logs = %s; want the refusal logged without the member's value", logs.String())
			}
		})
	}
}

// TestSkippedKeysLoggedOnce: unusable keys are skipped, each logged and
// counted once across refreshes, and the usable ones serve.
func TestSkippedKeysLoggedOnce(t *testing.T) {
	k1, dup1, dup2 := newECKey(t, "good-1"), newECKey(t, "dup"), newECKey(t, "dup")
	enc := jwkOf(t, newECKey(t, "enc-1"))
	enc["use"] = "enc"
	var set struct {
		Keys []any `json:"keys"`
	}
	must(t, json.Unmarshal(jwksJSON(t, k1, dup1, dup2), &set))
	set.Keys = append(set.Keys, enc, map[string]any{"kty": "XYZ", "kid": "alien"})
	body, err := json.Marshal(set)
	must(t, err)

	srv := newJWKSServer(t, true, k1)
	srv.set(body, http.StatusOK, false)
	var logs bytes.Buffer
	f := newRemoteFixture(t, srv, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	for range 3 { // three fetches of the same set
		f.clock.Advance(31 * time.Second)
		if _, err := f.v.issuers[issuerR].src.refresh(context.Background()); err != nil {
			t.Fatalf("refresh = %v", err)
		}
	}
	if err := f.verify(t, context.Background(), k1, issuerR); err != nil {
		t.Errorf("Verify(usable key) = %v; want ok", err)
	}
	if err := f.verify(t, context.Background(), dup1, issuerR); !isDetail(err, detailUnknownKey) {
		t.Errorf("Verify(duplicate kid) = %v; want %q", err, detailUnknownKey)
	}
	if st := f.statusOf(issuerR); st.SkippedKeys != 3 || st.Keys != 1 {
		t.Errorf("Status = %+v; want 1 key and 3 skipped (dup, enc-1, alien)", st)
	}
	for _, reason := range []string{keyset.SkipDuplicate, keyset.SkipNotSig, keyset.SkipUnknownKty} {
		if n := strings.Count(logs.String(), `"reason":"`+reason+`"`); n != 1 {
			t.Errorf("log lines for %s = %d; want 1\n%s", reason, n, logs.String())
		}
	}
}
