package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"query", "https://idp.example.test/jwks?api_key=S3CRET", "https://idp.example.test/jwks"},
		{"userinfo", "https://user:S3CRET@idp.example.test/jwks", "https://idp.example.test/jwks"},
		{"fragment", "https://idp.example.test/jwks#S3CRET", "https://idp.example.test/jwks"},
		{"empty query", "https://idp.example.test/jwks?", "https://idp.example.test/jwks"},
		{"plain", "https://idp.example.test/jwks", "https://idp.example.test/jwks"},
		{"invalid", "https://idp.example.test/%zz?S3CRET", invalidURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := URL(tc.in); got != tc.want {
				t.Errorf("URL(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"url in error", `Get "https://idp.test/jwks?key=S3CRET": dial tcp: refused`, `Get "https://idp.test/jwks": dial tcp: refused`},
		{"trailing dot", `fetch https://u:S3CRET@idp.test/a.`, `fetch https://idp.test/a.`},
		{"bearer", `sent Authorization: Bearer eyS3CRET.x.y`, `sent Authorization: Bearer ` + Placeholder},
		{"own quotes kept", `issuer "https://idp.test" has no key "k1"`, `issuer "https://idp.test" has no key "k1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"strconv", `strconv.ParseFloat: parsing "S3CRET": invalid syntax`, `strconv.ParseFloat: parsing "[redacted]": invalid syntax`},
		{"escaped quote", `value "a\"S3CRET" bad`, `value "[redacted]" bad`},
		{"backquote", "got `S3CRET`", `got "[redacted]"`},
		{"no quotes", "invalid character 'x'", "invalid character 'x'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Values(tc.in); got != tc.want {
				t.Errorf("Values(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWrapHidesTheLibraryText(t *testing.T) {
	lib := &url.Error{Op: "Get", URL: "https://idp.test/jwks?token=S3CRET", Err: errors.New(`bad "S3CRET"`)}
	err := fmt.Errorf("issuer x: %w", Wrap("key_set_fetch_failed", lib))
	if strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("wrapped error = %q; want no secret", err)
	}
	if got := ReasonOf(err); got != "key_set_fetch_failed" {
		t.Errorf("ReasonOf = %q; want key_set_fetch_failed", got)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Error("errors.As(*url.Error) = false; want the cause reachable")
	}
	if Wrap("x", nil) != nil || WrapDetail("x", "d", nil) != nil {
		t.Error("Wrap(nil) != nil")
	}
}

func TestErrorTextAndAttr(t *testing.T) {
	err := fmt.Errorf("refresh: GET https://idp.test/jwks?k=S3CRET: %w", errors.New("timeout"))
	if got := ErrorText(err); strings.Contains(got, "S3CRET") || !strings.Contains(got, "https://idp.test/jwks") {
		t.Errorf("ErrorText = %q; want the URL without its query", got)
	}
	if a := Attr("error", err); strings.Contains(a.Value.String(), "S3CRET") {
		t.Errorf("Attr = %v; want no secret", a)
	}
	if ErrorText(nil) != "" {
		t.Error(`ErrorText(nil) != ""`)
	}
}

func FuzzString(f *testing.F) {
	f.Add(`Get "https://u:p@h/x?q=S3CRET#f": x`)
	f.Add("Bearer abc https://h/?a")
	f.Fuzz(func(t *testing.T, s string) {
		out := Values(s)
		for _, m := range urlPattern.FindAllString(out, -1) {
			if strings.Contains(m, "?") || strings.Contains(m, "@") {
				if u, err := url.Parse(strings.TrimRight(m, ".,;:)]}")); err == nil && (u.RawQuery != "" || u.User != nil) {
					t.Fatalf("Values(%q) = %q keeps a query or userinfo in %q", s, out, m)
				}
			}
		}
	})
}
