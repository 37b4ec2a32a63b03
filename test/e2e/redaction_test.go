package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// debugConfig is e2eConfig logging every deny with its cause.
const debugConfig = e2eConfig + "log_level: debug\n"

// wantAbsent fails when secret appears in the logs, /readyz or any of the
// texts (a response, an RPC error).
func wantAbsent(t *testing.T, secret string, logs *syncBuffer, admin string, texts ...string) {
	t.Helper()
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs carry %q:\n%s", secret, logs.String())
	}
	res, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	defer res.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	if strings.Contains(body.String(), secret) {
		t.Errorf("/readyz carries %q: %s", secret, body.String())
	}
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("response carries %q: %s", secret, s)
		}
	}
}

// respText is the whole CheckResponse as JSON: status, headers, body.
func respText(t *testing.T, resp *authv3.CheckResponse) string {
	t.Helper()
	b, err := protojson.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestResilienceRedactsPolicyErrors: a policy whose builtin fails on a tool
// argument (strict builtin errors) is a 503 policy_error, and OPA's
// message, which quotes the operand, reaches neither the debug log, /readyz
// nor the response; the code and location do.
func TestResilienceRedactsPolicyErrors(t *testing.T) {
	const secret = "S3CRET-POLICY-ARG-7f3a9c"
	dir := copyPolicies(t)
	file := filepath.Join(dir, "decision.rego")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	probe := "reason := \"probe\" if {\n\tto_number(input.mcp.arguments.query) < 0\n} else := \"audience_mismatch\" if {"
	edited := bytes.Replace(src, []byte(`reason := "audience_mismatch" if {`), []byte(probe), 1)
	if bytes.Equal(edited, src) {
		t.Fatal("test setup: decision.rego has no audience_mismatch rule to prefix")
	}
	if err := os.WriteFile(file, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, client := startLogged(t, debugConfig+"bundle:\n  path: "+dir+"\n", logs)
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","arguments":{"query":"` + secret + `"}}}`
	resp := mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: body}.request())
	wantDeny(t, "policy builtin failing on an argument", resp, 503, "policy_error")
	if !strings.Contains(logs.String(), "policy_eval_error: eval_builtin_error at") {
		t.Errorf("deny log lacks the redacted cause (code and location):\n%s", logs.String())
	}
	wantAbsent(t, secret, logs, a.Addr("admin"), respText(t, resp))
}

// TestResilienceRedactsFetchErrors: a key-set URL whose query carries a
// credential, at an endpoint that refuses connections: the HTTP client's
// error quotes the whole URL, yet neither the logs, /readyz nor a Check's
// response show the query.
func TestResilienceRedactsFetchErrors(t *testing.T) {
	const secret = "S3CRET-QUERY-VALUE"
	closed := httptest.NewTLSServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close() // connection refused from here on
	logs := &syncBuffer{}
	cfg := strings.Replace(debugConfig, "jwks_file: testdata/keys/jwks.json",
		"jwks_url: "+url+"/jwks.json?api_key="+secret, 1)
	a, client := startLogged(t, cfg+"identity:\n  fetch_timeout: 2s\n  min_refetch_interval: 50ms\n", logs)
	resp := mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: toolsListBody}.request())
	wantDeny(t, "issuer without keys", resp, 503, "issuer_unavailable")
	_, ready := readyz(t, a)
	if is := firstIssuer(t, ready); !strings.Contains(is["last_error"].(string), "/jwks.json") {
		t.Errorf("/readyz last_error = %q; want the fetch error naming the URL's path", is["last_error"])
	}
	if !strings.Contains(logs.String(), "key set refresh failed") {
		t.Errorf("logs lack the failed refresh:\n%s", logs.String())
	}
	wantAbsent(t, secret, logs, a.Addr("admin"), respText(t, resp))
}

// TestResilienceRedactsSchemaErrors: arguments failing the tool's approved
// JSON Schema (pattern, maxLength, type) are denied (the policy sees the
// failing path and keyword, never the value); the value reaches neither
// the response nor the debug log.
func TestResilienceRedactsSchemaErrors(t *testing.T) {
	const secret = "S3CRET-SCHEMA-VALUE-b71e"
	logs := &syncBuffer{}
	a, client := startLogged(t, debugConfig, logs)
	tests := []struct{ name, args string }{
		{"pattern", `{"repo":"` + secret + ` not owner/name","title":"t"}`},
		{"maxLength", `{"repo":"acme/api","title":"` + secret + strings.Repeat("x", 300) + `"}`},
		{"type", `{"repo":"acme/api","title":"t","labels":"` + secret + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"create_issue","arguments":` + tc.args + `}}`
			resp := mustCheck(t, client, mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: body}.request())
			wantDeny(t, "arguments failing the schema", resp, 200, "invalid_arguments")
			wantAbsent(t, secret, logs, a.Addr("admin"), respText(t, resp))
		})
	}
}

// rawCodec sends pre-encoded protobuf bytes, so a test can put invalid
// UTF-8 in a string field (proto.Marshal would refuse to).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

// TestResilienceRedactsProtobufErrors: a CheckRequest whose body string
// holds invalid UTF-8 next to a secret fails protobuf decoding in gRPC,
// before Check; the decoding error names no value, in the RPC status or
// our logs.
func TestResilienceRedactsProtobufErrors(t *testing.T) {
	const secret = "S3CRET-PROTO-VALUE-5d02"
	logs := &syncBuffer{}
	a, _ := startLogged(t, debugConfig, logs)
	placeholder := secret + "A"
	req := mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: placeholder}.request()
	wire, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	wire = bytes.Replace(wire, []byte(placeholder), []byte(secret+"\xff"), 1)
	conn, err := grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), checkBound)
	defer cancel()
	var out authv3.CheckResponse
	err = conn.Invoke(ctx, "/envoy.service.auth.v3.Authorization/Check", &wire, &out, grpc.ForceCodec(rawCodec{}))
	if err == nil {
		t.Fatalf("Check with invalid UTF-8 = %v; want a decoding error", respText(t, &out))
	}
	if !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("Check error = %v; want the decoding error", err)
	}
	wantAbsent(t, secret, logs, a.Addr("admin"), err.Error())
}
