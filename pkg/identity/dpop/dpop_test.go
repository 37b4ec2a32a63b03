package dpop

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// RFC 9449 example values.
const (
	rfcJKT         = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // §6.1 cnf.jkt
	rfcAccessToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" // §7.1
	rfcATH         = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" // §7.1 ath
	rfcJWK         = `{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",` +
		`"y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}` // §4.1 header jwk
)

// readProof returns the proof stored in testdata/name.
func readProof(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	return strings.TrimSpace(string(b))
}

func TestRFC9449Thumbprint(t *testing.T) {
	key, err := jwk.ParseKey([]byte(rfcJWK))
	if err != nil {
		t.Fatalf("jwk.ParseKey(%s) = %v", rfcJWK, err)
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("Thumbprint = %v", err)
	}
	if got := base64.RawURLEncoding.EncodeToString(tp); got != rfcJKT {
		t.Errorf("thumbprint of the RFC 9449 key = %q; want %q", got, rfcJKT)
	}
	if got := ath(rfcAccessToken); got != rfcATH {
		t.Errorf("ath(%q) = %q; want %q", rfcAccessToken, got, rfcATH)
	}
}

// TestRFC9449TokenRequestProof checks the §4.1 example: its signature and
// claims verify and its key is the §6.1 jkt. It is a token-endpoint proof
// without ath, so at a resource it stops at the ath check.
func TestRFC9449TokenRequestProof(t *testing.T) {
	raw := readProof(t, "rfc9449-4.1-token-request.jwt")
	iat := time.Unix(1562262616, 0)
	c := newTestChecker(t, Options{}, newTestClock(iat))
	pf, err := c.verify(raw)
	if err != nil {
		t.Fatalf("verify(§4.1 proof) = %v; want nil", err)
	}
	want := claims{jti: "-BwC3ESc6acc2lTc", htm: "POST", htu: "https://server.example.com/token", iat: iat}
	if pf.claims != want || pf.jkt != rfcJKT {
		t.Errorf("verify(§4.1 proof) = %+v, jkt %q; want %+v, jkt %q", pf.claims, pf.jkt, want, rfcJKT)
	}
	err = c.Check(Params{Proof: raw, Method: "POST", URL: "https://server.example.com/token", AccessToken: "t", JKT: rfcJKT})
	wantDenial(t, "Check(§4.1 proof)", err, denial.InvalidDPoPProof, detailATH)
}

// TestRFC9449ResourceRequestProof checks the §7.1 example request end to end,
// then its replay.
func TestRFC9449ResourceRequestProof(t *testing.T) {
	c := newTestChecker(t, Options{}, newTestClock(time.Unix(1562262618, 0)))
	url, err := HTU("https://resource.example.org", "/protectedresource")
	if err != nil {
		t.Fatalf("HTU = %v", err)
	}
	p := Params{
		Proof:       readProof(t, "rfc9449-7.1-resource-request.jwt"),
		Method:      "GET",
		URL:         url,
		AccessToken: rfcAccessToken,
		JKT:         rfcJKT,
	}
	wantDenial(t, "Check(§7.1 proof)", c.Check(p), "", "")
	wantDenial(t, "Check(§7.1 proof replayed)", c.Check(p), denial.InvalidDPoPProof, detailReplay)
}

// checkCase is one row of TestCheck: a proof built by a signer with edits,
// checked with params edits.
type checkCase struct {
	name   string
	signer func(testKeys) signer
	hdr    map[string]any
	claims map[string]any
	proof  func(testing.TB, testKeys) string // overrides the built proof
	params func(*Params)
	opts   Options
	reason denial.Reason
	detail string
}

// checkCases is the table of TestCheck, also the seed corpus of FuzzCheck.
func checkCases() []checkCase {
	return slices.Concat(goodCases(), htuCases(), claimCases(), keyCases(), shapeCases())
}

// bad returns c named name, expecting InvalidDPoPProof with detail.
func bad(name, detail string, c checkCase) checkCase {
	c.name, c.reason, c.detail = name, denial.InvalidDPoPProof, detail
	return c
}

// claimCases break one claim, or the binding to the request and token.
func claimCases() []checkCase {
	return []checkCase{
		bad("htm other method", detailHTM, checkCase{claims: map[string]any{"htm": "GET"}}),
		bad("htm lower case", detailHTM, checkCase{claims: map[string]any{"htm": "post"}}),
		bad("htm missing", detailHTM, checkCase{claims: map[string]any{"htm": nil}}),
		bad("ath other token", detailATH, checkCase{claims: map[string]any{"ath": ath("other")}}),
		bad("ath padded", detailATH, checkCase{claims: map[string]any{"ath": ath(testToken) + "="}}),
		bad("ath missing", detailATH, checkCase{claims: map[string]any{"ath": nil}}),
		bad("no access token", detailATH, checkCase{params: func(p *Params) { p.AccessToken = "" }}),
		bad("iat too old", detailIAT, checkCase{claims: map[string]any{"iat": t0.Unix() - 61}}),
		bad("iat in the future", detailIAT, checkCase{claims: map[string]any{"iat": t0.Unix() + 61}}),
		bad("iat a string", detailClaims, checkCase{claims: map[string]any{"iat": "1750000000"}}),
		bad("iat missing", detailClaims, checkCase{claims: map[string]any{"iat": nil}}),
		bad("iat negative", detailClaims, checkCase{claims: map[string]any{"iat": -1}}),
		bad("jti missing", detailJTI, checkCase{claims: map[string]any{"jti": nil}}),
		bad("jti empty", detailJTI, checkCase{claims: map[string]any{"jti": ""}}),
		bad("jti too long", detailJTI, checkCase{claims: map[string]any{"jti": strings.Repeat("j", MaxJTIBytes+1)}}),
		bad("jti a number", detailClaims, checkCase{claims: map[string]any{"jti": 7}}),
		bad("jti null", detailClaims, checkCase{proof: rawClaims(`{"jti":null,"htm":"POST"}`)}),
		bad("duplicate htm", detailClaims, checkCase{proof: rawClaims(`{"jti":"a","htm":"GET","htm":"POST"}`)}),
		bad("claims an array", detailClaims, checkCase{proof: rawClaims(`["jti"]`)}),
		bad("claims with trailing data", detailClaims, checkCase{proof: rawClaims(`{"jti":"a"} {}`)}),
		bad("jkt mismatch", detailJKT, checkCase{params: func(p *Params) { p.JKT = rfcJKT }}),
		bad("jkt empty", detailJKT, checkCase{params: func(p *Params) { p.JKT = "" }}),
	}
}

// keyCases break the header: key, algorithm, typ, signature.
func keyCases() []checkCase {
	return []checkCase{
		bad("private EC key in header", detailKey, checkCase{proof: func(tb testing.TB, k testKeys) string {
			return k.es256.proof(tb, "j", map[string]any{"jwk": k.es256.full}, nil)
		}}),
		bad("private Ed25519 key in header", detailKey, checkCase{signer: func(k testKeys) signer { return k.eddsa },
			proof: func(tb testing.TB, k testKeys) string {
				return k.eddsa.proof(tb, "j", map[string]any{"jwk": k.eddsa.full}, nil)
			}}),
		bad("RSA key with p member", detailKey, checkCase{signer: func(k testKeys) signer { return k.rs256 },
			proof: func(tb testing.TB, k testKeys) string {
				return k.rs256.proof(tb, "j", map[string]any{"jwk": with(k.rs256.pub, map[string]any{"p": "AQAB"})}, nil)
			}}),
		bad("symmetric oct key in header", detailKey, checkCase{hdr: map[string]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}}),
		bad("EC point not on the curve", detailKey, checkCase{proof: func(tb testing.TB, k testKeys) string {
			swapped := with(k.es256.pub, map[string]any{"x": k.es256.pub["y"], "y": k.es256.pub["x"]})
			return k.es256.proof(tb, "j", map[string]any{"jwk": swapped}, nil)
		}}),
		bad("missing jwk", detailKey, checkCase{hdr: map[string]any{"jwk": nil}}),
		bad("RSA key of 1024 bits", detailKey, checkCase{signer: func(k testKeys) signer { return k.rsa1024 }}),
		bad("ES384 header alg on a P-256 key", detailKey, checkCase{proof: func(tb testing.TB, k testKeys) string {
			return k.es256.sign(tb, jwa.ES256, with(k.es256.baseHeader(), map[string]any{"alg": "ES384"}), mustJSON(tb, baseClaims("j")))
		}}),
		bad("HS256", detailAlg, checkCase{proof: hs256Proof}),
		bad("alg none", detailAlg, checkCase{proof: func(tb testing.TB, k testKeys) string {
			hdr := with(k.es256.baseHeader(), map[string]any{"alg": "none"})
			return b64(mustJSON(tb, hdr)) + "." + b64(mustJSON(tb, baseClaims("j"))) + ".AAAA"
		}}),
		bad("ES512 not in the default allowlist", detailAlg, checkCase{signer: func(k testKeys) signer { return k.es512 }}),
		bad("EdDSA not in a configured allowlist", detailAlg, checkCase{signer: func(k testKeys) signer { return k.eddsa },
			opts: Options{Algorithms: []string{"ES256"}}}),
		bad("typ JWT", detailTyp, checkCase{hdr: map[string]any{"typ": "JWT"}}),
		bad("typ missing", detailTyp, checkCase{hdr: map[string]any{"typ": nil}}),
		bad("crit header", detailHeader, checkCase{hdr: map[string]any{"crit": []string{"exp"}, "exp": 1}}),
		bad("b64 header", detailHeader, checkCase{hdr: map[string]any{"b64": true}}),
		bad("signed by another key", detailSignature, checkCase{proof: func(tb testing.TB, k testKeys) string {
			return k.es256b.sign(tb, jwa.ES256, k.es256.baseHeader(), mustJSON(tb, baseClaims("j")))
		}}),
		bad("signature of another proof", detailSignature, checkCase{proof: func(tb testing.TB, k testKeys) string {
			a, b := k.es256.proof(tb, "a", nil, nil), k.es256.proof(tb, "b", nil, nil)
			return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
		}}),
	}
}

// shapeCases are not compact JWS proofs at all.
func shapeCases() []checkCase {
	return []checkCase{
		bad("two segments", detailMalformed, checkCase{proof: edited(func(s string) string { return s[:strings.LastIndexByte(s, '.')] })}),
		bad("four segments", detailMalformed, checkCase{proof: edited(func(s string) string { return s + ".AAAA" })}),
		bad("empty signature", detailMalformed, checkCase{proof: edited(func(s string) string { return s[:strings.LastIndexByte(s, '.')+1] })}),
		bad("padded segment", detailMalformed, checkCase{proof: edited(func(s string) string { return s + "==" })}),
		bad("leading space", detailMalformed, checkCase{proof: edited(func(s string) string { return " " + s })}),
		bad("JSON serialization", detailMalformed, checkCase{proof: edited(func(string) string { return `{"payload":"e30","signatures":[]}` })}),
		bad("too large", detailMalformed, checkCase{claims: map[string]any{"pad": strings.Repeat("x", MaxProofBytes)}}),
		bad("empty", detailMalformed, checkCase{proof: edited(func(string) string { return "" })}),
	}
}

// goodCases are proofs Check accepts.
func goodCases() []checkCase {
	return []checkCase{
		{name: "ES256"},
		{name: "ES384", signer: func(k testKeys) signer { return k.es384 }},
		{name: "RS256", signer: func(k testKeys) signer { return k.rs256 }},
		{name: "PS256", signer: func(k testKeys) signer { return k.ps256 }},
		{name: "EdDSA", signer: func(k testKeys) signer { return k.eddsa }},
		{name: "ES512 when configured", signer: func(k testKeys) signer { return k.es512 },
			opts: Options{Algorithms: []string{"ES512"}}},
		{name: "iat at the edge of the window", claims: map[string]any{"iat": t0.Unix() - 60}},
		{name: "iat slightly ahead", claims: map[string]any{"iat": t0.Unix() + 5}},
		{name: "iat fractional", claims: map[string]any{"iat": float64(t0.Unix()) + 0.25}},
		{name: "unknown claims and nonce ignored", claims: map[string]any{"nonce": "n", "x": []int{1}}},
		{name: "kid in header ignored", hdr: map[string]any{"kid": "k1"}},
	}
}

// htuCases are the htu rows: RFC 9449 §4.3 compares htu without query and
// fragment after RFC 3986 §6.2 normalisation.
func htuCases() []checkCase {
	ok := func(name, htu string) checkCase {
		return checkCase{name: name, claims: map[string]any{"htu": htu}}
	}
	bad := func(name, htu string) checkCase {
		return checkCase{name: name, claims: map[string]any{"htu": htu}, reason: denial.InvalidDPoPProof, detail: detailHTU}
	}
	return []checkCase{
		ok("htu query ignored", testURL+"?a=1"),
		ok("htu fragment ignored", testURL+"#frag"),
		ok("htu upper-case scheme and host", "HTTPS://MCP.Example.TEST/mcp"),
		ok("htu default port", "https://mcp.example.test:443/mcp"),
		ok("htu empty port", "https://mcp.example.test:/mcp"),
		ok("htu percent-encoded unreserved", "https://mcp.example.test/%6D%63p"),
		ok("htu dot-segments", "https://mcp.example.test/a/../b/./../mcp"),
		bad("htu other host", "https://evil.example.test/mcp"),
		bad("htu other path", "https://mcp.example.test/other"),
		bad("htu path case", "https://mcp.example.test/MCP"),
		bad("htu trailing slash", "https://mcp.example.test/mcp/"),
		bad("htu http scheme", "http://mcp.example.test/mcp"),
		bad("htu other port", "https://mcp.example.test:8443/mcp"),
		bad("htu userinfo", "https://user@mcp.example.test/mcp"),
		bad("htu relative", "/mcp"),
		bad("htu encoded slash", "https://mcp.example.test%2Fmcp"),
		bad("htu not a string URI", "mcp.example.test/mcp"),
	}
}

// rawClaims returns a proof builder signing payload as is.
func rawClaims(payload string) func(testing.TB, testKeys) string {
	return func(tb testing.TB, k testKeys) string {
		return k.es256.sign(tb, jwa.ES256, k.es256.baseHeader(), []byte(payload))
	}
}

// edited returns a proof builder applying f to a good ES256 proof.
func edited(f func(string) string) func(testing.TB, testKeys) string {
	return func(tb testing.TB, k testKeys) string { return f(k.es256.proof(tb, "j", nil, nil)) }
}

// hs256Proof is a proof MACed with HS256 under an oct key in its header.
func hs256Proof(tb testing.TB, k testKeys) string {
	secret := []byte("0123456789abcdef0123456789abcdef")
	s := signer{alg: jwa.HS256, priv: secret, pub: map[string]any{"kty": "oct", "k": b64(secret)}}
	return s.proof(tb, "j", nil, nil)
}

// mustJSON returns the JSON encoding of v.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("json.Marshal(%v) = %v", v, err)
	}
	return b
}

// build returns the proof and params of tc.
func (tc checkCase) build(tb testing.TB, k testKeys) Params {
	tb.Helper()
	s := k.es256
	if tc.signer != nil {
		s = tc.signer(k)
	}
	var raw string
	if tc.proof != nil {
		raw = tc.proof(tb, k)
	} else {
		raw = s.proof(tb, "jti-"+tc.name, tc.hdr, tc.claims)
	}
	p := s.params(raw)
	if tc.params != nil {
		tc.params(&p)
	}
	return p
}

func TestCheck(t *testing.T) {
	k := keys(t)
	for _, tc := range checkCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestChecker(t, tc.opts, nil)
			p := tc.build(t, k)
			err := c.Check(p)
			wantDenial(t, "Check("+tc.name+")", err, tc.reason, tc.detail)
			if p.Proof != "" && strings.Contains(detailOf(err), p.Proof) {
				t.Errorf("Check(%s) detail %q contains the proof", tc.name, detailOf(err))
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "zero value", opts: Options{}},
		{name: "every supported alg", opts: Options{Algorithms: slices.Sorted(func(yield func(string) bool) {
			for a := range supportedAlgorithms {
				if !yield(a) {
					return
				}
			}
		})}},
		{name: "none", opts: Options{Algorithms: []string{"none"}}, wantErr: `"none"`},
		{name: "HS256", opts: Options{Algorithms: []string{"ES256", "HS256"}}, wantErr: `"HS256"`},
		{name: "lower-case alg", opts: Options{Algorithms: []string{"es256"}}, wantErr: `"es256"`},
		{name: "negative window", opts: Options{IATWindow: -time.Second}, wantErr: "IATWindow"},
		{name: "window too long", opts: Options{IATWindow: MaxIATWindow + 1}, wantErr: "IATWindow"},
		{name: "negative cache", opts: Options{ReplayCacheSize: -1}, wantErr: "ReplayCacheSize"},
		{name: "cache too large", opts: Options{ReplayCacheSize: MaxReplayCacheSize + 1}, wantErr: "ReplayCacheSize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New(%+v) = %v; want nil", tc.opts, err)
				}
				c.Close()
				c.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New(%+v) = %v; want an error naming %s", tc.opts, err, tc.wantErr)
			}
		})
	}
}

func TestAlgorithms(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{name: "default", want: []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}},
		{name: "configured order kept", opts: Options{Algorithms: []string{"ES384", "ES256"}}, want: []string{"ES384", "ES256"}},
		{name: "duplicates removed", opts: Options{Algorithms: []string{"ES256", "ES256", "EdDSA"}}, want: []string{"ES256", "EdDSA"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Algorithms(tc.opts)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Algorithms(%+v) = %q; want %q", tc.opts, got, tc.want)
			}
			got[0] = "mutated"
			if again := Algorithms(tc.opts); again[0] == "mutated" {
				t.Errorf("Algorithms(%+v) shares its result", tc.opts)
			}
		})
	}
}

// BenchmarkCheck measures an accepted ES256 proof, replay cache included.
func BenchmarkCheck(b *testing.B) {
	k := keys(b)
	pool := make([]Params, 512)
	for i := range pool {
		pool[i] = k.es256.params(k.es256.proof(b, "bench-"+strconv.Itoa(i), nil, nil))
	}
	c := newTestChecker(b, Options{}, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(pool) {
			b.StopTimer()
			c, i = newTestChecker(b, Options{}, nil), 0
			b.StartTimer()
		}
		if err := c.Check(pool[i]); err != nil {
			b.Fatalf("Check = %v; want nil", err)
		}
		i++
	}
}

// BenchmarkCheckReplay measures refusing a replayed ES256 proof.
func BenchmarkCheckReplay(b *testing.B) {
	k := keys(b)
	p := k.es256.params(k.es256.proof(b, "replayed", nil, nil))
	c := newTestChecker(b, Options{}, nil)
	if err := c.Check(p); err != nil {
		b.Fatalf("Check = %v; want nil", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(p); denial.ReasonOf(err) != denial.InvalidDPoPProof {
			b.Fatalf("Check(replay) = %v; want %s", err, denial.InvalidDPoPProof)
		}
	}
}
