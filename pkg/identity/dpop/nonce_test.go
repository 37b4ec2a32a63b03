package dpop

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

var (
	nonceKey      = bytes.Repeat([]byte{7}, NonceKeyBytes)
	otherNonceKey = bytes.Repeat([]byte{9}, NonceKeyBytes)
)

// newNonces returns a NonceSource on key with a 1-minute lifetime and clock.
func newNonces(tb testing.TB, key []byte, clock *testClock) *NonceSource {
	tb.Helper()
	s, err := NewNonceSource(NonceOptions{Key: key, Lifetime: time.Minute, Skew: 5 * time.Second, Clock: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func issue(tb testing.TB, s *NonceSource) string {
	tb.Helper()
	n, err := s.Issue()
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestNonceCheck: missing, expired, forged, sealed under another key, from
// the future beyond the skew: all use_dpop_nonce; a nonce issued by one
// instance is accepted by another sharing the key, within its lifetime.
func TestNonceCheck(t *testing.T) {
	issuerClock, checkerClock := newTestClock(t0), newTestClock(t0)
	a, b := newNonces(t, nonceKey, issuerClock), newNonces(t, nonceKey, checkerClock)
	other := newNonces(t, otherNonceKey, issuerClock)
	n := issue(t, a)
	forged := []byte(n)
	forged[len(forged)/2] ^= 1
	tests := []struct {
		name  string
		nonce string
		at    time.Time // checker's clock
		want  denial.Reason
	}{
		{"issued by a, checked by b", n, t0, ""},
		{"near the end of its lifetime", n, t0.Add(time.Minute), ""},
		{"expired", n, t0.Add(time.Minute + time.Millisecond), denial.UseDPoPNonce},
		{"checker clock behind, within skew", n, t0.Add(-5 * time.Second), ""},
		{"from the future beyond the skew", n, t0.Add(-6 * time.Second), denial.UseDPoPNonce},
		{"missing", "", t0, denial.UseDPoPNonce},
		{"forged", string(forged), t0, denial.UseDPoPNonce},
		{"sealed under another key", issue(t, other), t0, denial.UseDPoPNonce},
		{"not base64url", strings.Repeat("!", 48), t0, denial.UseDPoPNonce},
		{"too long", strings.Repeat("A", 200), t0, denial.UseDPoPNonce},
		{"truncated", n[:len(n)-4], t0, denial.UseDPoPNonce},
	}
	for _, tt := range tests {
		checkerClock.Set(tt.at)
		wantDenial(t, tt.name, b.Check(tt.nonce), tt.want, map[bool]string{true: detailNonce}[tt.want != ""])
	}
	if m := issue(t, a); m == n || strings.ContainsAny(m, "+/=\" ") {
		t.Errorf("second nonce %q: want a fresh base64url value different from %q", m, n)
	}
}

// TestCheckerNonce: with nonces on, a proof without a valid nonce is
// use_dpop_nonce; a second proof with the same nonce and a new jti is
// allowed (the nonce bounds time, the jti cache bounds replay), and a
// replayed jti is still refused.
func TestCheckerNonce(t *testing.T) {
	k := keys(t).es256
	clock := newTestClock(t0)
	nonces := newNonces(t, nonceKey, clock)
	c := newTestChecker(t, Options{Nonces: nonces}, clock)
	n := issue(t, nonces)
	wantDenial(t, "no nonce", c.Check(k.params(k.proof(t, "j0", nil, nil))), denial.UseDPoPNonce, detailNonce)
	wantDenial(t, "foreign nonce", c.Check(k.params(k.proof(t, "j1", nil, map[string]any{"nonce": issue(t, newNonces(t, otherNonceKey, clock))}))), denial.UseDPoPNonce, detailNonce)
	wantDenial(t, "nonce not a string", c.Check(k.params(k.proof(t, "j2", nil, map[string]any{"nonce": 5}))), denial.InvalidDPoPProof, detailClaims)
	wantDenial(t, "fresh nonce", c.Check(k.params(k.proof(t, "j3", nil, map[string]any{"nonce": n}))), "", "")
	wantDenial(t, "same nonce, new jti", c.Check(k.params(k.proof(t, "j4", nil, map[string]any{"nonce": n}))), "", "")
	wantDenial(t, "same nonce, same jti", c.Check(k.params(k.proof(t, "j4", nil, map[string]any{"nonce": n}))), denial.InvalidDPoPProof, detailReplay)
	clock.Set(t0.Add(time.Minute + time.Second))
	late := k.proof(t, "j5", nil, map[string]any{"nonce": n, "iat": clock.Now().Unix()})
	wantDenial(t, "expired nonce, fresh iat", c.Check(k.params(late)), denial.UseDPoPNonce, detailNonce)
}

func TestNewNonceSourceErrors(t *testing.T) {
	for _, o := range []NonceOptions{
		{Key: nonceKey[:16]},
		{Key: nonceKey, Lifetime: time.Second},
		{Key: nonceKey, Lifetime: 2 * time.Hour},
	} {
		if _, err := NewNonceSource(o); err == nil {
			t.Errorf("NewNonceSource(key %d bytes, lifetime %v) = nil error; want one", len(o.Key), o.Lifetime)
		}
	}
}

func TestReadNonceKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	std := base64.StdEncoding.EncodeToString(nonceKey)
	for _, good := range []string{std + "\n", base64.RawURLEncoding.EncodeToString(nonceKey), string(nonceKey), hex.EncodeToString(nonceKey) + "\n"} {
		if key, err := ReadNonceKey(write("k", good)); err != nil || !bytes.Equal(key, nonceKey) {
			t.Errorf("ReadNonceKey(%q) = %x, %v; want the key", good, key, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(nonceKey[:31])} {
		_, err := ReadNonceKey(write("k", bad))
		if err == nil || (bad != "" && strings.Contains(err.Error(), bad)) {
			t.Errorf("ReadNonceKey(%q) = %v; want an error that does not echo the file", bad, err)
		}
	}
	if _, err := ReadNonceKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadNonceKey(missing) = nil error")
	}
}
