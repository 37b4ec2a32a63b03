// Package e2e runs mcp-authz end to end: the real app (config, identity,
// embedded default bundle, ext_authz server) on loopback gRPC, driven by
// CheckRequests shaped exactly as Envoy and Istio send them.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

const testConfig = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
public_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
policy:
  deadline: 5s # these tests judge decisions, never latency (race detector, shared cores)
extproc:
  deadline: 5s # the same for list and output rules
`

// startApp runs the real app on testConfig and returns it with a client
// connection; both stop at the end of t.
func startApp(t testing.TB) (*app.App, *grpc.ClientConn) {
	t.Helper()
	a, _, conn := startAppConn(t, testConfig)
	return a, conn
}

// loadMix reads a JSON array of protojson CheckRequests.
func loadMix(t testing.TB, path string) []*authv3.CheckRequest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		t.Fatal(err)
	}
	out := make([]*authv3.CheckRequest, len(raws))
	for i, r := range raws {
		out[i] = &authv3.CheckRequest{}
		if err := protojson.Unmarshal(r, out[i]); err != nil {
			t.Fatalf("%s[%d]: %v", path, i, err)
		}
	}
	return out
}

func decision(resp *authv3.CheckResponse) string {
	if resp.GetStatus().GetCode() == 0 && resp.GetOkResponse() != nil {
		return "allow"
	}
	return "deny"
}

func TestFixtureMixOverGRPC(t *testing.T) {
	_, conn := startApp(t)
	client := authv3.NewAuthorizationClient(conn)
	reqs := loadMix(t, "testdata/mcp-mix.json")
	var want []string
	b, _ := os.ReadFile("testdata/mcp-mix.expect.json")
	if err := json.Unmarshal(b, &want); err != nil || len(want) != len(reqs) {
		t.Fatalf("expect file: %v (%d decisions for %d requests)", err, len(want), len(reqs))
	}
	for i, req := range reqs {
		ctx, cancel := context.WithTimeout(context.Background(), checkBound)
		resp, err := client.Check(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("request %d: Check error %v; want a response", i, err)
		}
		if got := decision(resp); got != want[i] {
			t.Errorf("request %d (%s): %s, reason %q; want %s", i, bodyOf(req), got, reasonOf(resp), want[i])
		}
	}
}

func bodyOf(req *authv3.CheckRequest) string {
	b := req.GetAttributes().GetRequest().GetHttp().GetBody()
	if len(b) > 80 {
		b = b[:80] + "…"
	}
	return b
}

func reasonOf(resp *authv3.CheckResponse) string {
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		if h.GetHeader().GetKey() == "x-mcp-authz-reason" {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

// TestEnvoyCaptures replays real Envoy and Istio captures: none is an MCP
// request for our hop, and each gets a stable status and reason.
func TestEnvoyCaptures(t *testing.T) {
	_, conn := startApp(t)
	client := authv3.NewAuthorizationClient(conn)
	golden := map[string]struct {
		status int
		reason string
	}{
		"checkrequest_istio_sidecar_mtls_post_json_body.json":     {401, "token_missing"},
		"checkrequest_istio_sidecar_plaintext_get_no_body.json":   {401, "token_missing"},
		"checkrequest_jwt_authn_metadata_http2_grpc_rawbody.json": {401, "token_missing"},
		"checkrequest_opa_docs_http1_post_json_body.json":         {404, "path_not_found"},
	}
	files, _ := filepath.Glob("testdata/envoy/checkrequest_*.json")
	if len(files) != len(golden) {
		t.Fatalf("found %d captures; the golden table has %d", len(files), len(golden))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, _ := os.ReadFile(f)
			req := &authv3.CheckRequest{}
			if err := protojson.Unmarshal(b, req); err != nil {
				t.Fatal(err)
			}
			resp, err := client.Check(context.Background(), req)
			if err != nil {
				t.Fatalf("Check error %v", err)
			}
			g := golden[filepath.Base(f)]
			got := int(resp.GetDeniedResponse().GetStatus().GetCode())
			if got != g.status || reasonOf(resp) != g.reason {
				t.Errorf("%d %q; want %d %q", got, reasonOf(resp), g.status, g.reason)
			}
		})
	}
}

func TestHealthAndAdmin(t *testing.T) {
	a, conn := startApp(t)
	for _, svc := range []string{"", "envoy.service.auth.v3.Authorization"} {
		resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health(%q) = %v, %v; want SERVING", svc, resp, err)
		}
	}
	// One Check so the decision counter has a sample.
	reqs := loadMix(t, "testdata/mcp-mix.json")
	if _, err := authv3.NewAuthorizationClient(conn).Check(context.Background(), reqs[0]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		listener, path string
		want           int
		contains       string
	}{
		{"admin", "/healthz", 200, "ok"},
		{"admin", "/readyz", 200, `"ready":true`},
		{"admin", "/metrics", 200, `mcp_authz_checks_total{decision="allow",reason="allowed"} 1`},
		{"admin", "/nothing", 404, ""},
		{"public", "/metrics", 404, ""},
		{"public", "/readyz", 404, ""},
	} {
		resp, err := http.Get("http://" + a.Addr(tc.listener) + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s%s = %d %.200q; want %d containing %q", tc.listener, tc.path, resp.StatusCode, body, tc.want, tc.contains)
		}
	}
	resp, err := http.Get("http://" + a.Addr("public") + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"https://mcp.example.test/mcp"`) {
		t.Errorf("protected resource metadata = %d %s; want 200 naming the resource", resp.StatusCode, body)
	}
}

func TestShutdownReportsNotServing(t *testing.T) {
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	if err := a.Shutdown(); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	conn, _ := grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("health answered after Shutdown; want the listener closed")
	}
}
