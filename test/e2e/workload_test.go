package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

const (
	istioClient = "spiffe://cluster.local/ns/clientns/sa/client1"
	// workloadPolicy allows only the Istio client workload, whoever the user.
	workloadPolicy = `package mcp.authz

default decision := {"allow": false, "reason": "workload_not_allowed"}

decision := {"allow": true, "reason": "allowed"} if {
	input.workload.principal == "spiffe://cluster.local/ns/clientns/sa/client1"
}
`
	emptyData = `{"mcp":{"settings":{},"servers":{},"roles":{},"tenants":{}}}`
)

// istioMCPRequest is the Istio sidecar mTLS capture adapted to an MCP
// tools/list at /mcp with a valid token; everything else (source
// principal, XFCC, :authority api1.api-istio, :scheme http) is as captured.
func istioMCPRequest(t *testing.T, token string) *authv3.CheckRequest {
	t.Helper()
	b, err := os.ReadFile("testdata/envoy/checkrequest_istio_sidecar_mtls_post_json_body.json")
	if err != nil {
		t.Fatal(err)
	}
	req := &authv3.CheckRequest{}
	if err := protojson.Unmarshal(b, req); err != nil {
		t.Fatal(err)
	}
	if got := req.GetAttributes().GetSource().GetPrincipal(); got != istioClient {
		t.Fatalf("capture source.principal = %q; want %q", got, istioClient)
	}
	h := req.GetAttributes().GetRequest().GetHttp()
	h.Path, h.Body, h.Size = "/mcp", toolsListBody, int64(len(toolsListBody))
	h.Headers[":path"] = "/mcp"
	h.Headers["content-length"] = strconv.Itoa(len(toolsListBody))
	h.Headers["mcp-protocol-version"] = "2025-06-18"
	h.Headers["authorization"] = "Bearer " + token
	return req
}

// TestIstioCaptureAsMCP checks that the adapted Istio capture is allowed
// by the default bundle.
func TestIstioCaptureAsMCP(t *testing.T) {
	_, client := startAppYAML(t, e2eConfig)
	wantAllow(t, "Istio mTLS capture as tools/list", mustCheck(t, client, istioMCPRequest(t, mintAccess(t, nil))))
}

// TestWorkloadPrincipalReachesPolicy runs a bundle whose decision depends
// only on input.workload.principal: Envoy's source.principal must reach it.
func TestWorkloadPrincipalReachesPolicy(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"workload.rego": workloadPolicy, "data.json": emptyData} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, client := startAppYAML(t, e2eConfig+"bundle:\n  path: "+dir+"\n")
	token := mintAccess(t, nil)

	wantAllow(t, "source "+istioClient, mustCheck(t, client, istioMCPRequest(t, token)))

	for _, principal := range []string{"spiffe://cluster.local/ns/other/sa/intruder", ""} {
		req := istioMCPRequest(t, token)
		req.Attributes.Source.Principal = principal // the XFCC header still names client1
		wantDeny(t, "source "+strconv.Quote(principal), mustCheck(t, client, req), 200, "workload_not_allowed")
	}
}
