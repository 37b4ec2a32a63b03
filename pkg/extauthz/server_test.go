package extauthz

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

func stringReader(s string) *strings.Reader { return strings.NewReader(s) }

var allowDecision = policy.Decision{Allow: true, Reason: "allowed"}

// want is the expected deny; rpcCode 0 means no JSON-RPC body.
type want struct {
	status    int
	reason    string
	rpcCode   int
	id        string // raw JSON of the echoed id ("null" for null)
	challenge string // substring of www-authenticate
	noChall   bool   // www-authenticate must be absent
	header    [2]string
}

func TestCheckDenialTable(t *testing.T) {
	good := mint(t, nil)
	tests := []struct {
		name string
		spec func(s *reqSpec)
		dec  *fakeDecider
		opts func(*Options)
		want want
	}{
		{name: "wrong path double slash", spec: func(s *reqSpec) { s.path = "//mcp" }, want: want{status: 404, reason: "path_not_found"}},
		{name: "wrong path params", spec: func(s *reqSpec) { s.path = "/mcp;x" }, want: want{status: 404, reason: "path_not_found"}},
		{name: "wrong path case", spec: func(s *reqSpec) { s.path = "/MCP" }, want: want{status: 404, reason: "path_not_found"}},
		{name: "wrong path encoded", spec: func(s *reqSpec) { s.path = "/%6Dcp" }, want: want{status: 404, reason: "path_not_found"}},
		{name: "method not allowed", spec: func(s *reqSpec) { s.method = "PUT" }, want: want{status: 405, reason: "method_not_allowed", header: [2]string{"allow", "GET, POST, DELETE"}}},
		{name: "method lower-case", spec: func(s *reqSpec) { s.method = "post" }, want: want{status: 405, reason: "method_not_allowed", header: [2]string{"allow", "GET, POST, DELETE"}}},
		{name: "method mixed-case", spec: func(s *reqSpec) { s.method = "Post" }, want: want{status: 405, reason: "method_not_allowed", header: [2]string{"allow", "GET, POST, DELETE"}}},
		{name: "fractional JSON-RPC id", spec: func(s *reqSpec) { s.body = `{"jsonrpc":"2.0","id":1.5,"method":"ping"}` }, want: want{status: 400, reason: "invalid_request", rpcCode: -32600, id: "null"}},
		{name: "JSON-RPC id over 2^63-1", spec: func(s *reqSpec) { s.body = `{"jsonrpc":"2.0","id":9223372036854775808,"method":"ping"}` }, want: want{status: 400, reason: "invalid_request", rpcCode: -32600, id: "null"}},
		{name: "partial body", spec: func(s *reqSpec) { s.headers["x-envoy-auth-partial-body"] = "true" }, want: want{status: 413, reason: "partial_body"}},
		{name: "content-length larger than body", spec: func(s *reqSpec) { s.headers["content-length"] = "9999" }, want: want{status: 413, reason: "content_length_mismatch"}},
		{name: "body over limit", spec: func(s *reqSpec) {
			s.body = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 5000) + `"}}`
		}, want: want{status: 413, reason: "body_too_large"}},
		{name: "gzip encoding", spec: func(s *reqSpec) { s.headers["content-encoding"] = "gzip" }, want: want{status: 415, reason: "unsupported_content_encoding"}},
		{name: "text content-type", spec: func(s *reqSpec) { s.headers["content-type"] = "text/plain" }, want: want{status: 415, reason: "unsupported_content_type"}},
		{name: "missing content-type", spec: func(s *reqSpec) { delete(s.headers, "content-type") }, want: want{status: 415, reason: "unsupported_content_type"}},
		{name: "latin1 charset", spec: func(s *reqSpec) { s.headers["content-type"] = "application/json; charset=latin1" }, want: want{status: 415, reason: "unsupported_content_type"}},
		{name: "origin not allowed", spec: func(s *reqSpec) { s.headers["origin"] = "https://evil.test" }, want: want{status: 403, reason: "origin_not_allowed"}},
		{name: "unsupported protocol version", spec: func(s *reqSpec) { s.headers["mcp-protocol-version"] = "2024-11-05" }, want: want{status: 400, reason: "unsupported_protocol_version", rpcCode: -32022, id: "7"}},
		{name: "no token", spec: func(s *reqSpec) { delete(s.headers, "authorization") }, want: want{status: 401, reason: "token_missing", challenge: `Bearer resource_metadata="` + testMetadata + `"`}},
		{name: "garbage token", spec: func(s *reqSpec) { s.headers["authorization"] = "Bearer abc.def.ghi" }, want: want{status: 401, reason: "token_invalid", challenge: `Bearer error="invalid_token"`}},
		{name: "expired token", spec: func(s *reqSpec) { s.headers["authorization"] = "Bearer " + mint(t, map[string]any{"exp": 1000}) }, want: want{status: 401, reason: "token_invalid", challenge: `resource_metadata="` + testMetadata}},
		{name: "token of another hop", spec: func(s *reqSpec) {
			s.headers["authorization"] = "Bearer " + mint(t, map[string]any{"aud": "https://other.example.test/mcp"})
		}, want: want{status: 401, reason: "token_invalid", challenge: `error="invalid_token"`}},
		{name: "policy denies a request", dec: &fakeDecider{d: policy.Decision{Reason: "tool_not_allowed"}}, want: want{status: 200, reason: "tool_not_allowed", rpcCode: CodePolicyDenied, id: "7", noChall: true}},
		{name: "policy denies with 403 by config", dec: &fakeDecider{d: policy.Decision{Reason: "tool_not_allowed"}}, opts: func(o *Options) { o.PolicyDenyStatus = 403 }, want: want{status: 403, reason: "tool_not_allowed", rpcCode: CodePolicyDenied, id: "7"}},
		{name: "policy denies a notification", spec: func(s *reqSpec) { s.body = `{"jsonrpc":"2.0","method":"notifications/initialized"}` }, dec: &fakeDecider{d: policy.Decision{Reason: "unknown_method"}}, want: want{status: 403, reason: "unknown_method"}},
		{name: "policy denies a response", spec: func(s *reqSpec) { s.body = `{"jsonrpc":"2.0","id":3,"result":{}}` }, dec: &fakeDecider{d: policy.Decision{Reason: "denied"}}, want: want{status: 403, reason: "denied"}},
		{name: "policy denies a GET", spec: func(s *reqSpec) { s.method, s.body = "GET", ""; delete(s.headers, "content-type") }, dec: &fakeDecider{d: policy.Decision{Reason: "denied"}}, want: want{status: 403, reason: "denied"}},
		{name: "policy denies a DELETE", spec: func(s *reqSpec) { s.method, s.body = "DELETE", "" }, dec: &fakeDecider{d: policy.Decision{Reason: "denied"}}, want: want{status: 403, reason: "denied"}},
		{name: "insufficient scope", dec: &fakeDecider{d: policy.Decision{Reason: "insufficient_scope", HTTPStatus: 403, Challenge: &policy.Challenge{Error: "insufficient_scope", Scope: "mcp:tools mcp:admin"}}},
			want: want{status: 403, reason: "insufficient_scope", challenge: `Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata=`}},
		{name: "dpop required by policy", dec: &fakeDecider{d: policy.Decision{Reason: "dpop_required", HTTPStatus: 401, Challenge: &policy.Challenge{Scheme: "DPoP", Error: "invalid_token", Description: "DPoP-bound token required"}}},
			want: want{status: 401, reason: "dpop_required", challenge: `DPoP error="invalid_token", error_description="DPoP-bound token required", algs="ES256 RS256"`}},
		{name: "invalid arguments code from policy", dec: &fakeDecider{d: policy.Decision{Reason: "invalid_arguments", RPCError: &policy.RPCError{Code: -32602, Message: "Invalid params"}}}, want: want{status: 200, reason: "invalid_arguments", rpcCode: -32602, id: "7"}},
		{name: "not JSON", spec: func(s *reqSpec) { s.body = `{"jsonrpc":` }, want: want{status: 400, reason: "parse_error", rpcCode: -32700, id: "null"}},
		{name: "tools/call without a string name", spec: func(s *reqSpec) {
			s.body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":42}}`
		}, want: want{status: 400, reason: "invalid_params", rpcCode: -32602, id: "7"}},
		{name: "batch", spec: func(s *reqSpec) { s.body = `[` + toolCall + `]` }, want: want{status: 400, reason: "invalid_request", rpcCode: -32600}},
		{name: "duplicate member", spec: func(s *reqSpec) {
			s.body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","name":"delete_repo"}}`
		}, want: want{status: 400, reason: "invalid_request", rpcCode: -32600, id: "7"}},
		{name: "case-folded member", spec: func(s *reqSpec) {
			s.body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","NAME":"delete_repo"}}`
		}, want: want{status: 400, reason: "invalid_request", rpcCode: -32600, id: "7"}},
		{name: "header mismatch 2026-07-28", spec: func(s *reqSpec) {
			s.headers["mcp-protocol-version"] = "2026-07-28"
			s.headers["mcp-method"] = "tools/call"
			s.headers["mcp-name"] = "delete_repo"
			s.body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
		}, want: want{status: 400, reason: "header_mismatch", rpcCode: -32020, id: "7"}},
		{name: "no policy", dec: &fakeDecider{err: denial.New(denial.NoPolicy, nil)}, want: want{status: 503, reason: "no_policy", rpcCode: -32603, id: "7"}},
		{name: "policy error on a notification", spec: func(s *reqSpec) { s.body = `{"jsonrpc":"2.0","method":"notifications/initialized"}` },
			dec: &fakeDecider{err: denial.New(denial.PolicyError, errors.New("boom"))}, want: want{status: 503, reason: "policy_error"}},
		{name: "unclassified error is internal", dec: &fakeDecider{err: errors.New("boom")}, want: want{status: 503, reason: "internal_error", rpcCode: -32603, id: "7"}},
		{name: "big id echoed byte-exact", spec: func(s *reqSpec) { s.body = strings.Replace(toolCall, `"id":7`, `"id":9007199254740993`, 1) },
			dec: &fakeDecider{d: policy.Decision{Reason: "tool_not_allowed"}}, want: want{status: 200, reason: "tool_not_allowed", rpcCode: CodePolicyDenied, id: "9007199254740993"}},
		{name: "string id echoed", spec: func(s *reqSpec) { s.body = strings.Replace(toolCall, `"id":7`, `"id":"a\u00e9"`, 1) },
			dec: &fakeDecider{d: policy.Decision{Reason: "tool_not_allowed"}}, want: want{status: 200, reason: "tool_not_allowed", rpcCode: CodePolicyDenied, id: `"a\u00e9"`}},
		{name: "GET with a body", spec: func(s *reqSpec) { s.method = "GET" }, want: want{status: 400, reason: "unexpected_body"}},
		{name: "GET in the stateless revision", spec: func(s *reqSpec) { s.method, s.body = "GET", ""; s.headers["mcp-protocol-version"] = "2026-07-28" }, want: want{status: 405, reason: "method_not_allowed"}},
		{name: "GET without protocol version", spec: func(s *reqSpec) { s.method, s.body = "GET", ""; delete(s.headers, "mcp-protocol-version") }, want: want{status: 400, reason: "unsupported_protocol_version", rpcCode: -32022, id: "null"}},
		{name: "policy sets an invalid header", dec: &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed", UpstreamHeaders: map[string]string{"x-a": "1\r\nx-b: 2"}}}, want: want{status: 503, reason: "policy_error", rpcCode: -32603, id: "7"}},
		{name: "policy sets the host header", dec: &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed", UpstreamHeaders: map[string]string{"host": "evil.test"}}}, want: want{status: 503, reason: "policy_error", rpcCode: -32603, id: "7"}},
		{name: "deny that claims 200 without a body is 403", spec: func(s *reqSpec) { s.body = `{"jsonrpc":"2.0","method":"notifications/initialized"}` },
			dec: &fakeDecider{d: policy.Decision{Reason: "denied", HTTPStatus: 200}}, want: want{status: 403, reason: "denied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec := tc.dec
			if dec == nil {
				dec = &fakeDecider{d: allowDecision}
			}
			s := newTestServer(t, dec, tc.opts)
			spec := baseSpec(good)
			if tc.spec != nil {
				tc.spec(&spec)
			}
			resp, err := s.Check(context.Background(), spec.build())
			if err != nil {
				t.Fatalf("Check returned a gRPC error %v; want nil always", err)
			}
			assertDeny(t, viewDenied(t, resp), tc.want)
		})
	}
}

func assertDeny(t *testing.T, got deniedView, w want) {
	t.Helper()
	if got.status != w.status || got.reason != w.reason {
		t.Errorf("deny = %d %q; want %d %q", got.status, got.reason, w.status, w.reason)
	}
	wantGRPC := int32(codes.PermissionDenied)
	if w.status == 401 {
		wantGRPC = int32(codes.Unauthenticated)
	}
	if got.grpc != wantGRPC {
		t.Errorf("CheckResponse.status = %d; want %d", got.grpc, wantGRPC)
	}
	assertRPC(t, got, w)
	ch := got.headers["www-authenticate"]
	if w.challenge != "" && !strings.Contains(ch, w.challenge) {
		t.Errorf("www-authenticate = %q; want it to contain %q", ch, w.challenge)
	}
	if (w.noChall || w.status != 401 && w.challenge == "") && ch != "" {
		t.Errorf("www-authenticate = %q; want none", ch)
	}
	if w.header[0] != "" && got.headers[w.header[0]] != w.header[1] {
		t.Errorf("header %s = %q; want %q", w.header[0], got.headers[w.header[0]], w.header[1])
	}
}

func assertRPC(t *testing.T, got deniedView, w want) {
	t.Helper()
	if w.rpcCode == 0 {
		if got.body != nil {
			t.Errorf("body = %v; want none", got.body)
		}
		return
	}
	if got.headers["content-type"] != "application/json" {
		t.Errorf("content-type = %q; want application/json", got.headers["content-type"])
	}
	e, _ := got.body["error"].(map[string]any)
	if code, _ := e["code"].(json.Number); code.String() != itoa(w.rpcCode) {
		t.Errorf("error.code = %v; want %d", e["code"], w.rpcCode)
	}
	if w.id != "" {
		raw, _ := json.Marshal(got.body["id"])
		if got.body["id"] == nil {
			raw = []byte("null")
		}
		if string(raw) != w.id && !(strings.HasPrefix(w.id, `"`) && got.body["id"] == mustString(w.id)) {
			t.Errorf("id = %s; want %s", raw, w.id)
		}
	}
}

func mustString(raw string) string {
	var s string
	_ = json.Unmarshal([]byte(raw), &s)
	return s
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
