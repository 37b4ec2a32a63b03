package extauthz

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/mcp-authz/mcp-authz/internal/devjwt"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

const (
	testIssuer   = "https://auth.example.test"
	testResource = "https://mcp.example.test/mcp"
	testMetadata = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"
)

// fakeDecider returns a fixed decision and records the input it saw.
type fakeDecider struct {
	d   policy.Decision
	err error
	got *policy.Input
}

func (f *fakeDecider) Decide(_ context.Context, in *policy.Input) (policy.Decision, error) {
	f.got = in
	return f.d, f.err
}

func newTestServer(t testing.TB, dec Decider, mutate func(*Options)) *Server {
	t.Helper()
	return newTestServerIssuer(t, dec, mutate, nil)
}

// newTestServerIssuer is newTestServer with the test issuer's config
// edited by issuer (nil: unchanged).
func newTestServerIssuer(t testing.TB, dec Decider, mutate func(*Options), issuer func(*identity.IssuerConfig)) *Server {
	t.Helper()
	ic := identity.IssuerConfig{Issuer: testIssuer, JWKSFile: "testdata/jwks.json", Algorithms: []string{"RS256"}}
	if issuer != nil {
		issuer(&ic)
	}
	v, err := identity.New(context.Background(), identity.Config{Issuers: []identity.IssuerConfig{ic}})
	if err != nil {
		t.Fatalf("identity.New: %v", err)
	}
	t.Cleanup(v.Close)
	opts := Options{
		Hops:             hop.New([]hop.Hop{{Path: "/mcp", Resource: testResource, PublicOrigin: "https://mcp.example.test"}}),
		AllowedOrigins:   []string{"https://app.example.test"},
		Limits:           mcp.Limits{MaxBytes: 4096, MaxDepth: 16},
		PolicyDenyStatus: 200,
		DPoPAlgs:         []string{"ES256", "RS256"},
	}
	if mutate != nil {
		mutate(&opts)
	}
	return New(opts, v, dec)
}

var testKey = func() *rsa.PrivateKey {
	k, err := devjwt.ReadRSAKey("testdata/private.pem")
	if err != nil {
		panic(err)
	}
	return k
}()

// mint signs claims (merged over valid defaults) with the test key.
func mint(t testing.TB, over map[string]any) string {
	t.Helper()
	claims := map[string]any{
		"iss": testIssuer, "sub": "alice", "aud": testResource, "roles": []string{"admin"},
		"scope": "mcp:tools", "iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	tok, err := devjwt.SignRS256(testKey, "bench-key-1", claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// reqSpec describes a CheckRequest; headerMap sends header_map (Envoy's
// encode_raw_headers) instead of the headers map.
type reqSpec struct {
	method, path, body string
	rawBody            bool
	headers            map[string]string
	headerMap          [][2]string
}

const toolCall = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","arguments":{"query":"x"}}}`

func baseSpec(token string) reqSpec {
	return reqSpec{method: "POST", path: "/mcp", body: toolCall, headers: map[string]string{
		"authorization": "Bearer " + token, "content-type": "application/json",
		"mcp-protocol-version": "2025-06-18", "x-request-id": "r-1",
	}}
}

func (s reqSpec) build() *authv3.CheckRequest {
	h := &authv3.AttributeContext_HttpRequest{Method: s.method, Path: s.path, Host: "mcp.example.test",
		Scheme: "https", Protocol: "HTTP/1.1", Size: int64(len(s.body))}
	if s.rawBody {
		h.RawBody = []byte(s.body)
	} else {
		h.Body = s.body
	}
	if s.headerMap != nil {
		hm := &corev3.HeaderMap{}
		for _, kv := range s.headerMap {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
		}
		h.HeaderMap = hm
	} else {
		h.Headers = map[string]string{":authority": "mcp.example.test", ":method": s.method, ":path": s.path}
		for k, v := range s.headers {
			h.Headers[k] = v
		}
		if _, ok := s.headers["content-length"]; !ok && s.body != "" {
			h.Headers["content-length"] = strconv.Itoa(len(s.body))
		}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{Http: h}}}
}

// deniedView flattens a deny for assertions.
type deniedView struct {
	status  int
	reason  string
	grpc    int32
	headers map[string]string
	body    map[string]any
}

func viewDenied(t testing.TB, resp *authv3.CheckResponse) deniedView {
	t.Helper()
	d := resp.GetDeniedResponse()
	if d == nil {
		t.Fatalf("response is not a denied_response: %v", resp)
	}
	out := deniedView{status: int(d.GetStatus().GetCode()), grpc: resp.GetStatus().GetCode(), headers: map[string]string{}}
	for _, h := range d.GetHeaders() {
		out.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	out.reason = out.headers[ReasonHeader]
	if d.GetBody() != "" {
		dec := json.NewDecoder(stringReader(d.GetBody()))
		dec.UseNumber()
		if err := dec.Decode(&out.body); err != nil {
			t.Fatalf("deny body %q is not JSON: %v", d.GetBody(), err)
		}
	}
	return out
}
