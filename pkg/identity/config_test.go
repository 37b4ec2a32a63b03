package identity

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsBadConfig(t *testing.T) {
	jwks := filepath.Join("testdata", "jwks.json")
	ok := IssuerConfig{Issuer: issuerA, JWKSFile: jwks}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error, each naming its field
	}{
		{name: "no issuers", cfg: Config{}, want: []string{"Issuers: at least one"}},
		{name: "issuer without iss and source", cfg: Config{Issuers: []IssuerConfig{{}}},
			want: []string{"Issuers[0].Issuer: is required", "Issuers[0].JWKSFile: exactly one"}},
		{name: "two sources", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSFile: jwks, JWKSURL: "https://a.test/jwks"}}},
			want: []string{"Issuers[0].JWKSFile: exactly one"}},
		{name: "duplicate issuer", cfg: Config{Issuers: []IssuerConfig{ok, ok}}, want: []string{"Issuers[1].Issuer: duplicates Issuers[0]"}},
		{name: "plain http without InsecureHTTP", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSURL: "http://a.test/jwks"}}},
			want: []string{"Issuers[0].JWKSURL: plain http requires InsecureHTTP"}},
		{name: "discovery URL with another scheme", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, DiscoveryURL: "ftp://a.test/x"}}},
			want: []string{"Issuers[0].DiscoveryURL: scheme"}},
		{name: "URL with user info", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSURL: "https://u:p@a.test/jwks"}}},
			want: []string{"Issuers[0].JWKSURL: URL must not carry user info"}},
		{name: "alg none", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSFile: jwks, Algorithms: []string{"none"}}}},
			want: []string{`Issuers[0].Algorithms: "none" is not an allowed`}},
		{name: "alg HS256", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSFile: jwks, Algorithms: []string{"RS256", "HS256"}}}},
			want: []string{`Issuers[0].Algorithms: "HS256" is not an allowed`}},
		{name: "CAFile with a file source", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSFile: jwks, CAFile: "ca.pem"}}},
			want: []string{"Issuers[0].CAFile: CAFile and InsecureHTTP apply only"}},
		{name: "limits out of range", cfg: Config{Issuers: []IssuerConfig{ok}, MaxTokenBytes: -1, CacheSize: -1, Skew: time.Hour,
			JWKSRefresh: time.Millisecond, MaxStaleness: -1, FetchTimeout: -1, MaxJWKSBytes: 1 << 30, MinRefetchInterval: -1},
			want: []string{"MaxTokenBytes:", "CacheSize:", "Skew:", "JWKSRefresh:", "MaxStaleness:", "FetchTimeout:", "MaxJWKSBytes:", "MinRefetchInterval:"}},
		{name: "missing JWKS file", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSFile: filepath.Join("testdata", "absent.json")}}},
			want: []string{"open JWKSFile"}},
		{name: "JWKS file publishing a symmetric key", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSFile: filepath.Join("testdata", "jwks-hmac.json")}}},
			want: []string{"private key material"}},
		{name: "CA file without certificates", cfg: Config{Issuers: []IssuerConfig{{Issuer: issuerA, JWKSURL: "https://a.test/jwks", CAFile: jwks}}},
			want: []string{"holds no PEM certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(context.Background(), tc.cfg)
			if err == nil {
				v.Close()
				t.Fatalf("New(%s) = nil error; want %q", tc.name, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%s) = %v; want it to contain %q", tc.name, err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Issuers: []IssuerConfig{{Issuer: issuerA}}}.withDefaults()
	if c.RolesClaim != "roles" || c.Skew != 30*time.Second || c.MaxTokenBytes != 8192 || c.CacheSize != 10000 ||
		c.JWKSRefresh != 5*time.Minute || c.MaxStaleness != time.Hour || c.FetchTimeout != 5*time.Second ||
		c.MaxJWKSBytes != 1<<20 || c.MinRefetchInterval != 30*time.Second || c.Clock == nil || c.Logger == nil || c.DPoP.Clock == nil {
		t.Errorf("withDefaults() = %+v; want the documented defaults", c)
	}
	if got := c.Issuers[0].Algorithms; strings.Join(got, ",") != strings.Join(DefaultAlgorithms(), ",") {
		t.Errorf("withDefaults() Algorithms = %v; want %v", got, DefaultAlgorithms())
	}
}
