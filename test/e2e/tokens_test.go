package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcp-authz/mcp-authz/pkg/app"
)

// mintConfig is testConfig with minting on for the default hop; %s is the
// signing key file list.
const mintConfig = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
public_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
policy:
  deadline: 5s
token_minting:
  issuer: ` + mintIssuer + `
  signing_key_files: [%s]
  algorithm: %s
upstream_token:
  mode: mint
`

// callerWorkload is the SPIFFE ID the tests' Envoy reports as source.principal.
const callerWorkload = "spiffe://cluster.local/ns/agents/sa/planner"

// startMinting runs the app with minting on, signing with a fresh key of alg.
func startMinting(t *testing.T, alg string) (*app.App, authv3.AuthorizationClient) {
	t.Helper()
	key := writeSigningKey(t, t.TempDir(), "signing.pem", alg)
	return startAppYAML(t, fmt.Sprintf(mintConfig, key, alg))
}

// withCallerCredentials adds the caller's other credentials and a calling
// workload to a fixture request.
func withCallerCredentials(req *authv3.CheckRequest) *authv3.CheckRequest {
	h := req.GetAttributes().GetRequest().GetHttp()
	h.Headers["cookie"] = "session=caller-secret"
	h.Headers["proxy-authorization"] = "Basic Y2FsbGVyOnNlY3JldA=="
	if req.Attributes.Source == nil {
		req.Attributes.Source = &authv3.AttributeContext_Peer{}
	}
	req.Attributes.Source.Principal = callerWorkload
	return req
}

// expectedScope is the per-call scope, computed independently from the body.
func expectedScope(t *testing.T, body string) string {
	t.Helper()
	var m struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Method == "tools/call" {
		return "mcp:tools/call:issues/" + m.Params.Name
	}
	return "mcp:" + m.Method
}

// subjectOf reads sub from the caller's (already verified) bearer token.
func subjectOf(t *testing.T, authorization string) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(authorization, "Bearer "), ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

// TestMintedTokenFixtureMix sends the fixture mix over real gRPC with minting
// on: every allowed request reaches the upstream (Envoy's order: set, then
// remove) with a minted token that verifies against the served JWKS with the
// right aud, sub, scope, act and lifetime, and none of the caller's
// credentials; denied requests carry no token.
func TestMintedTokenFixtureMix(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			a, client := startMinting(t, alg)
			set := fetchJWKS(t, a.Addr("public"))
			reqs := loadMix(t, "testdata/mcp-mix.json")
			var want []string
			b, _ := os.ReadFile("testdata/mcp-mix.expect.json")
			if err := json.Unmarshal(b, &want); err != nil || len(want) != len(reqs) {
				t.Fatalf("expect file: %v", err)
			}
			for i, req := range reqs {
				resp := mustCheck(t, client, withCallerCredentials(req))
				if got := decision(resp); got != want[i] {
					t.Fatalf("request %d: %s %q; want %s", i, got, reasonOf(resp), want[i])
				}
				if want[i] == "deny" {
					wantNoToken(t, i, resp)
					continue
				}
				checkMintedClaims(t, checkMintedUpstream(t, set, req, resp.GetOkResponse()), req)
			}
		})
	}
}

// checkMintedUpstream applies ok to req's headers in Envoy's order,
// checks the upstream sees only the minted token, verifies it against set
// and returns it.
func checkMintedUpstream(t *testing.T, set jwk.Set, req *authv3.CheckRequest, ok *authv3.OkHttpResponse) mintedView {
	t.Helper()
	h := req.GetAttributes().GetRequest().GetHttp()
	for _, o := range ok.GetHeaders() {
		if o.GetHeader().GetKey() == "authorization" &&
			(o.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD || o.GetAppend() == nil || o.GetAppend().GetValue()) { //nolint:staticcheck // SA1019: the deprecated append is part of the contract
			t.Errorf("authorization set with %v, append %v; want OVERWRITE_IF_EXISTS_OR_ADD and append false", o.GetAppendAction(), o.GetAppend()) //nolint:staticcheck // SA1019: as above
		}
	}
	if slices.Contains(ok.GetHeadersToRemove(), "authorization") {
		t.Fatal("authorization listed in headers_to_remove: Envoy would strip the minted token")
	}
	up := envoyApply(t, h.GetHeaders(), ok)
	for _, c := range []string{"cookie", "proxy-authorization", "dpop"} {
		if v, ok := up[c]; ok {
			t.Errorf("upstream sees the caller's %s %q", c, v)
		}
	}
	tok := upstreamBearer(t, up)
	if "Bearer "+tok == h.GetHeaders()["authorization"] {
		t.Fatal("upstream sees the caller's own token")
	}
	m, err := verifyMinted(t, set, tok, e2eResource, time.Now())
	if err != nil {
		t.Fatalf("minted token does not verify against the served JWKS: %v", err)
	}
	if _, err := verifyMinted(t, set, tok, e2eResource, m.exp.Add(time.Second)); err == nil {
		t.Error("minted token still verifies a second after its exp")
	}
	if m.typ != "at+jwt" || m.kid == "" {
		t.Errorf("minted header typ %q kid %q; want at+jwt and a kid", m.typ, m.kid)
	}
	if _, found := set.LookupKeyID(m.kid); !found {
		t.Errorf("kid %q is not in the served JWKS", m.kid)
	}
	return m
}

// checkMintedClaims checks the claims a fixture request's token must carry.
func checkMintedClaims(t *testing.T, m mintedView, req *authv3.CheckRequest) {
	t.Helper()
	h := req.GetAttributes().GetRequest().GetHttp()
	if got, want := m.claims["sub"], subjectOf(t, h.GetHeaders()["authorization"]); got != want {
		t.Errorf("sub = %v; want %v", got, want)
	}
	if got, want := m.claims["scope"], expectedScope(t, h.GetBody()); got != want {
		t.Errorf("scope = %v; want %v", got, want)
	}
	if got, want := jsonOf(m.claims["act"]), `{"sub":"`+callerWorkload+`"}`; got != want {
		t.Errorf("act = %s; want %s", got, want)
	}
	if got := m.exp.Sub(m.iat); got != 60*time.Second {
		t.Errorf("lifetime = %s; want the default 60s", got)
	}
	if jti, _ := m.claims["jti"].(string); jti == "" {
		t.Error("no jti")
	}
}

// wantNoToken fails if a deny carries anything like a minted token.
func wantNoToken(t *testing.T, i int, resp *authv3.CheckResponse) {
	t.Helper()
	if resp.GetOkResponse() != nil {
		t.Errorf("request %d: denied with an ok_response", i)
	}
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		if strings.EqualFold(h.GetHeader().GetKey(), "authorization") || strings.Contains(h.GetHeader().GetValue(), "Bearer ey") {
			t.Errorf("request %d: deny carries %s", i, h.GetHeader().GetKey())
		}
	}
}
