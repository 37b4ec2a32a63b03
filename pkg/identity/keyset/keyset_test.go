package keyset

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		file    string
		wantErr error
		keys    []string          // usable kids, in order
		skipped map[string]string // kid → reason
	}{
		{file: "good.json", keys: []string{"rsa-1", "ec-1", "ed-1"}},
		{file: "private-rsa.json", wantErr: ErrPrivateMaterial},
		{file: "private-ec.json", wantErr: ErrPrivateMaterial},
		{file: "private-oth.json", wantErr: ErrPrivateMaterial},
		{file: "symmetric.json", wantErr: ErrPrivateMaterial},
		{file: "unusable-mix.json", keys: []string{"good"}, skipped: map[string]string{
			"weak": SkipWeak, "enc": SkipNotSig, "signonly": SkipNoVerify, "alien": SkipUnknownKty,
			"wrongalg": SkipAlg, "x25519": SkipCurve, "hs": SkipAlg, "broken": SkipMalformed}},
		{file: "duplicate-kid.json", keys: []string{"ok"}, skipped: map[string]string{"dup": SkipDuplicate}},
		{file: "all-unusable.json", wantErr: ErrNoUsableKey},
		{file: "empty.json", wantErr: ErrNoUsableKey},
		{file: "not-a-set.json", wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			s, err := Parse(readFixture(t, tc.file))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Parse(%s) = %v; want %v", tc.file, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "S3CRET") {
					t.Errorf("Parse(%s) error %q quotes the document", tc.file, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) = %v; want nil", tc.file, err)
			}
			var kids []string
			for _, k := range s.Keys {
				kids = append(kids, k.KID)
			}
			if !slices.Equal(kids, tc.keys) {
				t.Errorf("Parse(%s) keys = %q; want %q", tc.file, kids, tc.keys)
			}
			got := map[string]string{}
			for _, sk := range s.Skipped {
				got[sk.KID] = sk.Reason
			}
			for kid, want := range tc.skipped {
				if got[kid] != want {
					t.Errorf("Parse(%s) skipped %q = %q; want %q", tc.file, kid, got[kid], want)
				}
			}
			if len(got) != len(tc.skipped) {
				t.Errorf("Parse(%s) skipped = %v; want %v", tc.file, got, tc.skipped)
			}
		})
	}
}

// TestPrivateMaterialNamesMembersNotValues: the refusal says which member
// leaked, never its value.
func TestPrivateMaterialNamesMembersNotValues(t *testing.T) {
	_, err := Parse([]byte(`{"keys":[{"kty":"oct","kid":"h","k":"S3CRETS3CRET"}]}`))
	if !errors.Is(err, ErrPrivateMaterial) || !strings.Contains(err.Error(), "has k") || strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("Parse = %v; want ErrPrivateMaterial naming member k without its value", err)
	}
}

func TestOverKeyLimit(t *testing.T) {
	good := string(readFixture(t, "good.json"))
	_, after, _ := strings.Cut(good, "[")
	first, _, _ := strings.Cut(after, "},")
	var b strings.Builder
	b.WriteString(`{"keys":[`)
	for i := range MaxKeys + 2 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strings.Replace(first+"}", `"rsa-1"`, `"k`+string(rune('A'+i%26))+strings.Repeat("x", i/26)+`"`, 1))
	}
	b.WriteString("]}")
	s, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Keys) != MaxKeys || len(s.Skipped) != 2 || s.Skipped[0].Reason != SkipOverLimit {
		t.Errorf("Parse(%d keys) = %d keys, skipped %v; want %d keys and 2 over the limit", MaxKeys+2, len(s.Keys), s.Skipped, MaxKeys)
	}
}

func TestPublicPEM(t *testing.T) {
	tests := []struct {
		file, alg string
		wantErr   error
	}{
		{"rsa-public.pem", "RS256", nil},
		{"rsa-public.pem", "ES256", ErrNoUsableKey},
		{"rsa1024-public.pem", "RS256", ErrNoUsableKey},
		{"rsa-private.pem", "RS256", ErrPrivateMaterial},
		{"hmac-secret.pem", "HS256", ErrNotPublicKey},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.alg, func(t *testing.T) {
			_, err := PublicPEM(readFixture(t, tc.file), tc.alg)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("PublicPEM(%s, %s) = %v; want %v", tc.file, tc.alg, err, tc.wantErr)
			}
		})
	}
}

// FuzzParse: Parse never panics; every key it returns fits its own alg and
// no two share a kid.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"good.json", "unusable-mix.json", "private-oth.json", "duplicate-kid.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := Parse(doc)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, k := range s.Keys {
			if k.Alg != "" && !Fits(k.Public, k.Alg) {
				t.Fatalf("key %q with alg %q that does not fit it", k.KID, k.Alg)
			}
			if k.KID != "" && seen[k.KID] {
				t.Fatalf("kid %q returned twice", k.KID)
			}
			seen[k.KID] = true
		}
	})
}
