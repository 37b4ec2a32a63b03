package e2e

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestHealthFollowsIssuerKeys starts with an issuer whose JWKS endpoint
// fails: gRPC health is NOT_SERVING (no issuer has keys). Once the endpoint
// serves its keys, health turns SERVING without a restart.
func TestHealthFollowsIssuerKeys(t *testing.T) {
	jwks, err := os.ReadFile("testdata/keys/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var up atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
policy:
  deadline: 5s # the activation's smoke query too: room for the race detector on loaded cores
identity:
  jwks_refresh: 1s
  fetch_timeout: 10s # bounds a fetch that should succeed: room for a loaded machine
issuers:
  - issuer: https://auth.example.test
    jwks_url: ` + srv.URL + `/jwks.json
    ca_file: ` + ca + `
`
	a, _ := startAppYAML(t, cfg)
	conn, err := grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	status := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health: %v", err)
		}
		return resp.GetStatus()
	}
	if got := status(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health with no issuer keys = %v; want NOT_SERVING", got)
	}
	up.Store(true)
	var got healthpb.HealthCheckResponse_ServingStatus
	waitFor(t, "health SERVING after the JWKS endpoint recovered", func() bool {
		got = status()
		return got == healthpb.HealthCheckResponse_SERVING
	})
}
