package upstream

import (
	"strings"
	"testing"
)

// FuzzParseExchangeResponse: whatever an STS answers, a success is a
// non-empty, bounded, header-safe Bearer token with a non-negative lifetime
// of at most a day; anything else is an error, never a panic.
func FuzzParseExchangeResponse(f *testing.F) {
	for _, seed := range []string{
		`{"access_token":"a.b.c","token_type":"Bearer","expires_in":300,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`,
		`{"access_token":"a","token_type":"bearer"}`,
		`{"access_token":"a b","token_type":"Bearer"}`,
		`{"access_token":"a","token_type":"N_A"}`,
		`{"access_token":"a","token_type":"Bearer","expires_in":-1}`,
		`{"access_token":"a","token_type":"Bearer","expires_in":1e99}`,
		`{"access_token":"a","token_type":"Bearer","expires_in":"300"}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, life, err := parseExchangeResponse(body)
		if err != nil {
			if tok != "" {
				t.Fatalf("error %v with token %q", err, tok)
			}
			return
		}
		if tok == "" || len(tok) > maxExchangedToken || !headerSafe(tok) || strings.ContainsAny(tok, " \r\n\t,") {
			t.Fatalf("accepted token %q", tok)
		}
		if life < 0 || life > 24*60*60*1e9 {
			t.Fatalf("lifetime %s out of range", life)
		}
	})
}
