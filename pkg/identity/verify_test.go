package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// fixture is a Verifier with two file-backed issuers: A (RSA, testdata)
// and B (EC, generated; requires typ at+jwt).
type fixture struct {
	clock *fakeClock
	a, b  testKey
	v     *Verifier
}

func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), a: rsaKeyA(t), b: newECKey(t, kidB)}
	cfg := Config{
		Issuers: []IssuerConfig{
			{Issuer: issuerA, JWKSFile: filepath.Join("testdata", "jwks.json")},
			{Issuer: issuerB, JWKSFile: writeJWKS(t, f.b), RequireTyp: "at+jwt"},
		},
		Clock: f.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(v.Close)
	f.v = v
	return f
}

func bearer(tok string) []string { return []string{"Bearer " + tok} }

// dpopProof is an RFC 9449 proof by k for a request with token.
func dpopProof(t testing.TB, k testKey, method, htu, token, jti string, iat time.Time) string {
	t.Helper()
	j := jwkOf(t, k)
	hdr := map[string]any{"typ": "dpop+jwt", "alg": "ES256",
		"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": j["x"], "y": j["y"]}}
	sum := sha256.Sum256([]byte(token))
	claims := map[string]any{"jti": jti, "htm": method, "htu": htu, "iat": iat.Unix(), "ath": b64(sum[:])}
	return mint(t, hdr, claims, k.priv)
}

func TestVerifyRefusesAttacks(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.a, f.b
	ca := claimsFor(issuerA, resourceA)
	good := sign(t, a, ca)
	parts := strings.Split(good, ".")
	pubPEM, err := os.ReadFile(filepath.Join("testdata", "public.pem"))
	must(t, err)
	attacker := newECKey(t, "attacker-key")
	holder := newECKey(t, "holder")
	bound := sign(t, a, with(ca, "cnf", map[string]any{"jkt": jktOf(t, holder)}))

	tests := []struct {
		name       string
		authz      []string
		dpop       []string
		resource   string
		wantReason denial.Reason
		wantDetail string
	}{
		{name: "no Authorization header", wantReason: denial.TokenMissing, wantDetail: detailNoToken},
		{name: "two Authorization headers", authz: []string{"Bearer " + good, "Bearer " + good}, wantReason: denial.TokenInvalid, wantDetail: detailTwoAuthz},
		{name: "wrong scheme", authz: []string{"Basic " + good}, wantReason: denial.TokenInvalid, wantDetail: detailScheme},
		{name: "scheme without token", authz: []string{"Bearer"}, wantReason: denial.TokenInvalid, wantDetail: detailBadAuthz},
		{name: "empty token", authz: []string{"Bearer "}, wantReason: denial.TokenInvalid, wantDetail: detailBadAuthz},
		{name: "alg none, empty signature", authz: bearer(b64JSON(t, map[string]any{"alg": "none"}) + "." + parts[1] + "."),
			wantReason: denial.TokenInvalid, wantDetail: detailMalformed},
		{name: "alg none with a signature", authz: bearer(b64JSON(t, map[string]any{"alg": "none", "kid": kidA}) + "." + parts[1] + "." + parts[2]),
			wantReason: denial.TokenInvalid, wantDetail: detailAlg},
		{name: "HS256 signed with the RSA public key bytes", authz: bearer(mint(t, map[string]any{"alg": "HS256", "kid": kidA}, ca, pubPEM)),
			wantReason: denial.TokenInvalid, wantDetail: detailAlg},
		{name: "unknown kid", authz: bearer(mint(t, map[string]any{"alg": "RS256", "kid": "nope"}, ca, a.priv)),
			wantReason: denial.TokenInvalid, wantDetail: detailUnknownKey},
		{name: "kid of another issuer's key", authz: bearer(sign(t, b, ca)),
			wantReason: denial.TokenInvalid, wantDetail: detailUnknownKey},
		{name: "key of issuer A for a token of issuer B", authz: bearer(sign(t, a, claimsFor(issuerB, resourceA))),
			wantReason: denial.TokenInvalid, wantDetail: detailUnknownKey},
		{name: "alg of another key type (ES256 with an RSA kid)", authz: bearer(mint(t, map[string]any{"alg": "ES256", "kid": kidA}, ca, b.priv)),
			wantReason: denial.TokenInvalid, wantDetail: detailUnknownKey},
		{name: "embedded jwk header is ignored", authz: bearer(mint(t, map[string]any{"alg": "ES256", "kid": kidA, "jwk": jwkOf(t, attacker)}, ca, attacker.priv)),
			wantReason: denial.TokenInvalid, wantDetail: detailUnknownKey},
		{name: "signed by another key under the right kid", authz: bearer(mint(t, map[string]any{"alg": "RS256", "kid": kidA}, ca, rsaOther(t))),
			wantReason: denial.TokenInvalid, wantDetail: detailSignature},
		{name: "payload tampered", authz: bearer(parts[0] + "." + b64JSON(t, with(ca, "roles", []string{"root"})) + "." + parts[2]),
			wantReason: denial.TokenInvalid, wantDetail: detailSignature},
		{name: "expired", authz: bearer(sign(t, a, with(ca, "exp", t0.Add(-time.Minute).Unix()))),
			wantReason: denial.TokenInvalid, wantDetail: detailExpired},
		{name: "missing exp", authz: bearer(sign(t, a, with(ca, "exp", nil))),
			wantReason: denial.TokenInvalid, wantDetail: detailNoExp},
		{name: "exp 0", authz: bearer(sign(t, a, with(ca, "exp", 0))),
			wantReason: denial.TokenInvalid, wantDetail: detailExpired},
		{name: "exp negative", authz: bearer(sign(t, a, with(ca, "exp", -5))),
			wantReason: denial.TokenInvalid, wantDetail: detailMalformedClaims},
		{name: "exp a string", authz: bearer(sign(t, a, with(ca, "exp", "4102444800"))),
			wantReason: denial.TokenInvalid, wantDetail: detailMalformedClaims},
		{name: "nbf in the future", authz: bearer(sign(t, a, with(ca, "nbf", t0.Add(time.Minute).Unix()))),
			wantReason: denial.TokenInvalid, wantDetail: detailNotYet},
		{name: "iat in the future", authz: bearer(sign(t, a, with(ca, "iat", t0.Add(time.Minute).Unix()))),
			wantReason: denial.TokenInvalid, wantDetail: detailIATFuture},
		{name: "wrong iss", authz: bearer(sign(t, a, with(ca, "iss", "https://evil.example.test"))),
			wantReason: denial.TokenInvalid, wantDetail: detailUnknownIssuer},
		{name: "missing iss", authz: bearer(sign(t, a, with(ca, "iss", nil))),
			wantReason: denial.TokenInvalid, wantDetail: detailUnknownIssuer},
		{name: "audience of another hop", authz: bearer(sign(t, a, with(ca, "aud", resourceB))),
			wantReason: denial.TokenInvalid, wantDetail: detailAudience},
		{name: "audience list without this hop", authz: bearer(sign(t, a, with(ca, "aud", []string{resourceB, "https://x.test"}))),
			wantReason: denial.TokenInvalid, wantDetail: detailAudience},
		{name: "missing aud", authz: bearer(sign(t, a, with(ca, "aud", nil))),
			wantReason: denial.TokenInvalid, wantDetail: detailAudience},
		{name: "token of hop A at hop B", authz: bearer(good), resource: resourceB,
			wantReason: denial.TokenInvalid, wantDetail: detailAudience},
		{name: "crit header", authz: bearer(mint(t, map[string]any{"alg": "RS256", "kid": kidA, "crit": []string{"exp"}, "exp": 1}, ca, a.priv)),
			wantReason: denial.TokenInvalid, wantDetail: detailCrit},
		{name: "b64 false header", authz: bearer(mint(t, map[string]any{"alg": "RS256", "kid": kidA, "b64": false}, ca, a.priv)),
			wantReason: denial.TokenInvalid, wantDetail: detailHeader},
		{name: "typ other than at+jwt where required", authz: bearer(mint(t, map[string]any{"alg": "ES256", "kid": kidB, "typ": "JWT"}, claimsFor(issuerB, resourceA), b.priv)),
			wantReason: denial.TokenInvalid, wantDetail: detailTyp},
		{name: "JWS JSON serialization", authz: bearer(`{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`),
			wantReason: denial.TokenInvalid, wantDetail: detailJSONSerial},
		{name: "four-segment token", authz: bearer(good + "." + parts[2]), wantReason: denial.TokenInvalid, wantDetail: detailSegments},
		{name: "five-segment token (JWE)", authz: bearer(good + ".a.b"), wantReason: denial.TokenInvalid, wantDetail: detailJWE},
		{name: "padded base64", authz: bearer(parts[0] + "=." + parts[1] + "." + parts[2]), wantReason: denial.TokenInvalid, wantDetail: detailMalformed},
		{name: "oversized token", authz: bearer(sign(t, a, with(ca, "pad", strings.Repeat("x", DefaultMaxTokenBytes)))),
			wantReason: denial.TokenInvalid, wantDetail: detailTooLarge},
		{name: "claims not an object", authz: bearer(mint(t, map[string]any{"alg": "RS256", "kid": kidA}, nil, a.priv)),
			wantReason: denial.TokenInvalid, wantDetail: detailMalformedClaims},
		{name: "mTLS-bound token (cnf x5t#S256)", authz: bearer(sign(t, a, with(ca, "cnf", map[string]any{"x5t#S256": "abc"}))),
			wantReason: denial.TokenInvalid, wantDetail: detailCnf},
		{name: "DPoP-bound token as Bearer", authz: bearer(bound), wantReason: denial.TokenInvalid, wantDetail: detailBoundAsBearer},
		{name: "unbound token with the DPoP scheme", authz: []string{"DPoP " + good}, dpop: []string{"x.y.z"},
			wantReason: denial.TokenInvalid, wantDetail: detailNotBound},
		{name: "DPoP scheme without a proof", authz: []string{"DPoP " + bound},
			wantReason: denial.InvalidDPoPProof, wantDetail: detailNoProof},
		{name: "DPoP scheme with two proofs", authz: []string{"DPoP " + bound},
			dpop:       []string{dpopProof(t, holder, "POST", originA+"/mcp", bound, "j1", t0), dpopProof(t, holder, "POST", originA+"/mcp", bound, "j2", t0)},
			wantReason: denial.InvalidDPoPProof, wantDetail: detailTwoProofs},
		{name: "DPoP proof by another key", authz: []string{"DPoP " + bound},
			dpop:       []string{dpopProof(t, attacker, "POST", originA+"/mcp", bound, "j3", t0)},
			wantReason: denial.InvalidDPoPProof},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Authorization: tc.authz, DPoP: tc.dpop, Method: "POST", Path: "/mcp", Resource: resourceA, PublicOrigin: originA}
			if tc.resource != "" {
				r.Resource = tc.resource
			}
			p, err := f.v.Verify(context.Background(), r)
			reason, detail := reasonOf(err)
			if p != nil || reason != tc.wantReason || (tc.wantDetail != "" && detail != tc.wantDetail) {
				t.Errorf("Verify() = %v, %q (%q); want nil, %q (%q)", p, reason, detail, tc.wantReason, tc.wantDetail)
			}
			if err != nil && strings.Contains(err.Error(), parts[2]) {
				t.Errorf("Verify() error %q contains token bytes", err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.a, f.b
	ca := claimsFor(issuerA, resourceA)
	holder := newECKey(t, "holder")
	jkt := jktOf(t, holder)
	bound := sign(t, a, with(ca, "cnf", map[string]any{"jkt": jkt}))
	ignore := cmpopts.IgnoreFields(Principal{}, "Claims", "ExpiresAt")
	tests := []struct {
		name  string
		authz []string
		dpop  []string
		want  Principal
	}{
		{name: "roles as a list, scope split, azp", authz: bearer(sign(t, a, ca)),
			want: Principal{Subject: "alice", Issuer: issuerA, Audience: []string{resourceA}, Scopes: []string{"mcp:tools", "mcp:resources"},
				Roles: []string{"admin"}, ClientID: "client-1", TokenType: "Bearer", TokenID: "jti-1", KeyID: kidA}},
		{name: "roles as a list, client_id, aud list of this hop only, scp list", authz: bearer(sign(t, a, with(ca, "roles", []string{"analyst"}, "azp", nil, "client_id", "client-2",
			"aud", []string{resourceA}, "scope", nil, "scp", []string{"a", "b"}))),
			want: Principal{Subject: "alice", Issuer: issuerA, Audience: []string{resourceA}, Scopes: []string{"a", "b"},
				Roles: []string{"analyst"}, ClientID: "client-2", TokenType: "Bearer", TokenID: "jti-1", KeyID: kidA}},
		{name: "lower-case scheme, no roles", authz: []string{"bearer " + sign(t, a, with(ca, "roles", nil))},
			want: Principal{Subject: "alice", Issuer: issuerA, Audience: []string{resourceA}, Scopes: []string{"mcp:tools", "mcp:resources"},
				ClientID: "client-1", TokenType: "Bearer", TokenID: "jti-1", KeyID: kidA}},
		{name: "expired within skew", authz: bearer(sign(t, a, with(ca, "exp", t0.Add(-10*time.Second).Unix()))),
			want: Principal{Subject: "alice", Issuer: issuerA, Audience: []string{resourceA}, Scopes: []string{"mcp:tools", "mcp:resources"},
				Roles: []string{"admin"}, ClientID: "client-1", TokenType: "Bearer", TokenID: "jti-1", KeyID: kidA}},
		{name: "issuer B with typ application/at+jwt", authz: bearer(mint(t, map[string]any{"alg": "ES256", "kid": kidB, "typ": "application/AT+JWT"}, claimsFor(issuerB, resourceA), b.priv)),
			want: Principal{Subject: "alice", Issuer: issuerB, Audience: []string{resourceA}, Scopes: []string{"mcp:tools", "mcp:resources"},
				Roles: []string{"admin"}, ClientID: "client-1", TokenType: "Bearer", TokenID: "jti-1", KeyID: kidB}},
		{name: "DPoP-bound token with a valid proof", authz: []string{"DPoP " + bound},
			dpop: []string{dpopProof(t, holder, "POST", originA+"/mcp", bound, "p1", t0)},
			want: Principal{Subject: "alice", Issuer: issuerA, Audience: []string{resourceA}, Scopes: []string{"mcp:tools", "mcp:resources"},
				Roles: []string{"admin"}, ClientID: "client-1", TokenType: "DPoP", TokenID: "jti-1", KeyID: kidA, CnfJKT: jkt}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Authorization: tc.authz, DPoP: tc.dpop, Method: "POST", Path: "/mcp?x=1", Resource: resourceA, PublicOrigin: originA}
			p, err := f.v.Verify(context.Background(), r)
			if err != nil {
				t.Fatalf("Verify() = %v; want a principal", err)
			}
			if diff := cmp.Diff(tc.want, *p, ignore); diff != "" {
				t.Errorf("Verify() mismatch (-want +got):\n%s", diff)
			}
			if p.Claims["sub"] != "alice" || p.ExpiresAt.IsZero() {
				t.Errorf("Verify() claims = %v, exp %v; want sub alice and an expiry", p.Claims, p.ExpiresAt)
			}
		})
	}
}

// TestCacheKeepsPerRequestChecks: a cached token is still refused at
// another hop, as Bearer when bound, and with a replayed DPoP proof.
func TestCacheKeepsPerRequestChecks(t *testing.T) {
	f := newFixture(t, nil)
	holder := newECKey(t, "holder")
	ca := claimsFor(issuerA, resourceA)
	plain := sign(t, f.a, ca)
	bound := sign(t, f.a, with(ca, "cnf", map[string]any{"jkt": jktOf(t, holder)}))
	proof := dpopProof(t, holder, "POST", originA+"/mcp", bound, "once", t0)
	steps := []struct {
		name       string
		r          Request
		wantReason denial.Reason
	}{
		{name: "plain at hop A", r: Request{Authorization: bearer(plain), Resource: resourceA}},
		{name: "plain again at hop A (cached)", r: Request{Authorization: bearer(plain), Resource: resourceA}},
		{name: "plain at hop B", r: Request{Authorization: bearer(plain), Resource: resourceB}, wantReason: denial.TokenInvalid},
		{name: "bound with proof", r: Request{Authorization: []string{"DPoP " + bound}, DPoP: []string{proof}, Method: "POST", Path: "/mcp", Resource: resourceA, PublicOrigin: originA}},
		{name: "bound, proof replayed (token cached)", r: Request{Authorization: []string{"DPoP " + bound}, DPoP: []string{proof}, Method: "POST", Path: "/mcp", Resource: resourceA, PublicOrigin: originA},
			wantReason: denial.InvalidDPoPProof},
		{name: "bound as Bearer (token cached)", r: Request{Authorization: bearer(bound), Resource: resourceA}, wantReason: denial.TokenInvalid},
	}
	for _, s := range steps {
		_, err := f.v.Verify(context.Background(), s.r)
		if got, _ := reasonOf(err); got != s.wantReason {
			t.Errorf("%s: Verify() = %v; want reason %q", s.name, err, s.wantReason)
		}
	}
	f.clock.Advance(2 * time.Hour) // past exp: the cached entry must not serve
	if _, err := f.v.Verify(context.Background(), Request{Authorization: bearer(plain), Resource: resourceA}); !isDetail(err, detailExpired) {
		t.Errorf("Verify(expired cached token) = %v; want %q", err, detailExpired)
	}
}

func isDetail(err error, detail string) bool {
	_, d := reasonOf(err)
	return d == detail
}

func TestRequireDPoP(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Issuers[0].RequireDPoP = true })
	_, err := f.v.Verify(context.Background(), Request{Authorization: bearer(sign(t, f.a, claimsFor(issuerA, resourceA))), Resource: resourceA})
	if !isDetail(err, detailDPoPRequired) {
		t.Errorf("Verify(Bearer at RequireDPoP issuer) = %v; want %q", err, detailDPoPRequired)
	}
}

func TestVerifyEmptyResourceIsInternal(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.v.Verify(context.Background(), Request{Authorization: bearer(sign(t, f.a, claimsFor(issuerA, resourceA)))})
	if got := denial.ReasonOf(err); got != denial.Internal {
		t.Errorf("Verify(no Resource) = %v; want %q", err, denial.Internal)
	}
}

func TestStatusFileIssuers(t *testing.T) {
	f := newFixture(t, nil)
	got := f.v.Status()
	want := []IssuerStatus{
		{Issuer: issuerA, Source: "file", HasKeys: true, Keys: 1, LastRefresh: t0},
		{Issuer: issuerB, Source: "file", HasKeys: true, Keys: 1, LastRefresh: t0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status() mismatch (-want +got):\n%s", diff)
	}
	f.clock.Advance(48 * time.Hour) // file sets never go stale
	if !f.v.Ready() || !slices.ContainsFunc(f.v.Status(), func(s IssuerStatus) bool { return s.HasKeys }) {
		t.Errorf("Ready() = false after 48h with file issuers; want true")
	}
}

// rsaOther is a second RSA key (generated once per test binary).
func rsaOther(t testing.TB) any {
	t.Helper()
	otherRSAOnce.Do(func() { otherRSA, otherRSAErr = rsa.GenerateKey(rand.Reader, 2048) })
	must(t, otherRSAErr)
	return otherRSA
}

var (
	otherRSAOnce sync.Once
	otherRSA     *rsa.PrivateKey
	otherRSAErr  error
)
