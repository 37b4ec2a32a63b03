package e2e

import (
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// The strict token profile and the strict HTTP and JSON-RPC corners
// (issue 9), each rule through the real app and its default bundle: the
// default config refuses, the well-formed request passes, and the rule's
// knob relaxes exactly that rule.

// hardeningConfigs are the configurations the cases run under: the default
// (only what the before-stop check sets), an issuer requiring every RFC 9068
// claim, an issuer with every relaxing knob set, and space-separated roles.
var hardeningConfigs = map[string]string{
	"default": e2eConfig,
	"require_claims": hardeningBase + `    require_claims: [client_id, jti, iat]
`,
	"relaxed": hardeningBase + `    allow_multi_audience: true
    kid_optional: true
    dpop: {ignore_proof_with_bearer: true}
`,
	"space_separated": hardeningBase + `roles_claim_format: space_separated
`,
}

// hardeningBase is e2eConfig with the issuer last, so a case can add keys
// to it.
const hardeningBase = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
policy:
  deadline: 5s
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
`

// hardeningCase is one request and its expected decision under cfg.
type hardeningCase struct {
	name      string
	cfg       string // key of hardeningConfigs; "" is "default"
	req       func(t *testing.T) *authv3.CheckRequest
	status    int    // 0: allow
	reason    string // the deny's x-mcp-authz-reason
	challenge string // substring of WWW-Authenticate, when set
	body      string // substring of the deny body, when set
}

// runHardening runs the cases, starting each configuration's app once (for
// the whole of t).
func runHardening(t *testing.T, tests []hardeningCase) {
	t.Helper()
	clients := map[string]authv3.AuthorizationClient{}
	for i := range tests {
		if tests[i].cfg == "" {
			tests[i].cfg = "default"
		}
		if _, ok := clients[tests[i].cfg]; !ok {
			_, clients[tests[i].cfg] = startAppYAML(t, hardeningConfigs[tests[i].cfg])
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := mustCheck(t, clients[tc.cfg], tc.req(t))
			if tc.status == 0 {
				wantAllow(t, tc.name, resp)
				return
			}
			d := wantDeny(t, tc.name, resp, tc.status, tc.reason)
			if c := d.headers["www-authenticate"]; !strings.Contains(c, tc.challenge) {
				t.Errorf("WWW-Authenticate %q; want it to contain %q", c, tc.challenge)
			}
			if !strings.Contains(d.body, tc.body) {
				t.Errorf("body %q; want it to contain %q", d.body, tc.body)
			}
		})
	}
}

// call is a POST of body with the Bearer token minted over the defaults
// (alice, admin) and extra headers.
func call(body string, over map[string]any, headers map[string]string) func(*testing.T) *authv3.CheckRequest {
	return func(t *testing.T) *authv3.CheckRequest {
		return mcpPost{authorization: "Bearer " + mintAccess(t, over), body: body, headers: headers}.request()
	}
}

// search is a tools/call alice (admin) may make, with the token's claims
// changed by over.
func search(over map[string]any) func(*testing.T) *authv3.CheckRequest {
	return call(searchCallBody, over, nil)
}

const otherHop = "https://other.example.test/mcp"

func TestTokenSubjectRequired(t *testing.T) {
	const why = `error_description="missing sub claim"`
	runHardening(t, []hardeningCase{
		{name: "sub present", req: search(nil)},
		{name: "sub absent", req: search(map[string]any{"sub": nil}), status: 401, reason: "token_invalid", challenge: why},
		{name: "sub empty", req: search(map[string]any{"sub": ""}), status: 401, reason: "token_invalid", challenge: why},
		{name: "sub a number", req: search(map[string]any{"sub": 7}), status: 401, reason: "token_invalid", challenge: why},
	})
}

func TestTokenRequireClaims(t *testing.T) {
	full := map[string]any{"client_id": "cli-1", "jti": "j-1"}
	runHardening(t, []hardeningCase{
		{name: "default: none required", req: search(map[string]any{"iat": nil})},
		{name: "all present", cfg: "require_claims", req: search(full)},
		{name: "client_id absent", cfg: "require_claims", req: search(map[string]any{"jti": "j-1"}),
			status: 401, reason: "token_invalid", challenge: `error_description="missing client_id claim"`},
		{name: "jti absent", cfg: "require_claims", req: search(map[string]any{"client_id": "cli-1"}),
			status: 401, reason: "token_invalid", challenge: `error_description="missing jti claim"`},
		{name: "iat absent", cfg: "require_claims", req: search(map[string]any{"client_id": "cli-1", "jti": "j-1", "iat": nil}),
			status: 401, reason: "token_invalid", challenge: `error_description="missing iat claim"`},
	})
}

func TestTokenSingleAudience(t *testing.T) {
	two := map[string]any{"aud": []string{e2eResource, otherHop}}
	runHardening(t, []hardeningCase{
		{name: "this hop only", req: search(map[string]any{"aud": []string{e2eResource}})},
		{name: "this hop and another", req: search(two), status: 401, reason: "token_invalid",
			challenge: `error="invalid_token", error_description="token audience names other resources besides this one"`},
		{name: "another hop only", req: search(map[string]any{"aud": otherHop}), status: 401, reason: "token_invalid",
			challenge: `error_description="audience mismatch"`},
		{name: "allow_multi_audience: this hop and another", cfg: "relaxed", req: search(two)},
		{name: "allow_multi_audience: another hop only", cfg: "relaxed", req: search(map[string]any{"aud": otherHop}),
			status: 401, reason: "token_invalid"},
	})
}

func TestTokenKIDRequired(t *testing.T) {
	noKID := func(t *testing.T) *authv3.CheckRequest {
		return mcpPost{authorization: "Bearer " + mintAccessKID(t, "", nil), body: searchCallBody}.request()
	}
	runHardening(t, []hardeningCase{
		{name: "kid present", req: search(nil)},
		{name: "no kid", req: noKID, status: 401, reason: "token_invalid", challenge: `error_description="missing kid header"`},
		{name: "kid_optional: no kid, one RS256 key", cfg: "relaxed", req: noKID},
		{name: "kid_optional: kid present", cfg: "relaxed", req: search(nil)},
	})
}

func TestDPoPProofWithBearerRefused(t *testing.T) {
	withProof := func(t *testing.T) *authv3.CheckRequest {
		tok := mintAccess(t, nil)
		proof := newDPoPKey(t).proof(t, e2eResource, tok)
		return mcpPost{authorization: "Bearer " + tok, body: searchCallBody, headers: map[string]string{"dpop": proof}}.request()
	}
	runHardening(t, []hardeningCase{
		{name: "Bearer alone", req: search(nil)},
		{name: "Bearer with a DPoP header", req: withProof, status: 401, reason: "invalid_dpop_proof",
			challenge: `DPoP error="invalid_dpop_proof", error_description="DPoP proof sent with a Bearer token"`},
		{name: "Bearer with a garbage DPoP header", req: call(searchCallBody, nil, map[string]string{"dpop": "x"}),
			status: 401, reason: "invalid_dpop_proof", challenge: `DPoP error="invalid_dpop_proof"`},
		{name: "ignore_proof_with_bearer: proof ignored", cfg: "relaxed", req: withProof},
	})
}

func TestHTTPMethodCaseSensitive(t *testing.T) {
	method := func(m string) func(*testing.T) *authv3.CheckRequest {
		return func(t *testing.T) *authv3.CheckRequest {
			req := search(nil)(t)
			h := req.GetAttributes().GetRequest().GetHttp()
			h.Method, h.Headers[":method"] = m, m
			return req
		}
	}
	runHardening(t, []hardeningCase{
		{name: "POST", req: method("POST")},
		{name: "post", req: method("post"), status: 405, reason: "method_not_allowed"},
		{name: "Post", req: method("Post"), status: 405, reason: "method_not_allowed"},
		{name: "get", req: method("get"), status: 405, reason: "method_not_allowed"},
		{name: "Delete", req: method("Delete"), status: 405, reason: "method_not_allowed"},
	})
}

func TestJSONRPCIDShapes(t *testing.T) {
	withID := func(id string) func(*testing.T) *authv3.CheckRequest {
		return call(`{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"search_issues","arguments":{"query":"x"}}}`, nil, nil)
	}
	bad := func(id string) hardeningCase {
		return hardeningCase{name: "id " + id, req: withID(id), status: 400, reason: "invalid_request",
			body: `"id":null,"error":{"code":-32600`}
	}
	runHardening(t, []hardeningCase{
		{name: "id 0", req: withID("0")},
		{name: "id -0", req: withID("-0")},
		{name: "id 2^63-1", req: withID("9223372036854775807")},
		{name: "id -(2^63-1)", req: withID("-9223372036854775807")},
		{name: "id a string", req: withID(`"1.5"`)},
		bad("1.5"), bad("1.0"), bad("1e3"), bad("1E3"), bad("1e400"), bad("-1e-3"),
		bad("9223372036854775808"), bad("-9223372036854775808"), bad("100000000000000000000000"),
		{name: "a deny echoes the largest id byte-exact", status: 200, reason: "tool_not_registered",
			req:  call(`{"jsonrpc":"2.0","id":9223372036854775807,"method":"tools/call","params":{"name":"nope"}}`, nil, nil),
			body: `"id":9223372036854775807,`},
	})
}

func TestRolesClaimShape(t *testing.T) {
	list := func(roles any) func(*testing.T) *authv3.CheckRequest {
		return call(toolsListBody, map[string]any{"roles": roles}, nil)
	}
	const denied = `"code":-32003`
	runHardening(t, []hardeningCase{
		{name: "array of strings", req: search(map[string]any{"roles": []string{"admin"}})},
		{name: "no roles claim", req: search(map[string]any{"roles": nil}), status: 200, reason: "tool_not_allowed", body: denied},
		{name: "a string", req: search(map[string]any{"roles": "admin"}), status: 200, reason: "invalid_roles_claim", body: denied},
		{name: "a number", req: search(map[string]any{"roles": 1}), status: 200, reason: "invalid_roles_claim", body: denied},
		{name: "an object", req: search(map[string]any{"roles": map[string]any{"admin": true}}), status: 200, reason: "invalid_roles_claim", body: denied},
		{name: "an array holding a number", req: search(map[string]any{"roles": []any{"admin", 1}}), status: 200, reason: "invalid_roles_claim", body: denied},
		{name: "a string, on a call needing no role", req: list("admin")},
		{name: "space_separated: a string of roles", cfg: "space_separated", req: search(map[string]any{"roles": "analyst admin"})},
		{name: "space_separated: an array", cfg: "space_separated", req: search(map[string]any{"roles": []string{"admin"}}),
			status: 200, reason: "invalid_roles_claim", body: denied},
	})
}
