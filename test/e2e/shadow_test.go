package e2e

import (
	"path/filepath"
	"testing"
)

func TestShadowModeFixtureMix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	a, client := startAppYAML(t, logConfig(path, "mode: shadow\n"))
	reqs, resps := runMix(t, client)
	want := mixExpect(t)
	denies := 0
	for i, resp := range resps {
		wantAllow(t, "shadow mix", resp)
		if want[i] == "deny" {
			denies++
		}
	}
	metrics := scrape(t, a.Addr("admin"))
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if denies == 0 {
		t.Fatal("the fixture mix has no deny: the test would prove nothing")
	}
	recs := byRequestID(t, readRecords(t, path))
	for i, req := range reqs {
		r := recs[req.GetAttributes().GetRequest().GetHttp().GetHeaders()["x-request-id"]]
		if r["decision"] != want[i] || r["mode"] != "shadow" || r["enforced_decision"] != "allow" {
			t.Errorf("mix[%d]: record decision %v, mode %v, enforced %v; want %s in shadow, enforced allow",
				i, r["decision"], r["mode"], r["enforced_decision"], want[i])
		}
		if want[i] == "deny" && (r["reason"] == "" || r["reason"] == "shadow" || r["http_status"] == 0.0) {
			t.Errorf("mix[%d]: record reason %v, status %v; want the enforcing deny's", i, r["reason"], r["http_status"])
		}
	}
	if got := metricValue(t, metrics, `mcp_authz_shadow_checks_total{decision="deny"`); got != float64(denies) {
		t.Errorf("shadow deny count %v; want %d", got, denies)
	}
}

func TestShadowModePerHop(t *testing.T) {
	cfg := `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resources:
  - {host: shadow.example.test, path: /mcp, resource: https://shadow.example.test/mcp, mode: shadow}
  - {host: mcp.example.test, path: /mcp, resource: https://mcp.example.test/mcp}
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
policy:
  deadline: 5s
`
	_, client := startAppYAML(t, cfg)
	noToken := mcpPost{body: toolsListBody}
	wantDeny(t, "enforcing hop without a token", mustCheck(t, client, noToken.request()), 401, "token_missing")
	noToken.host = "shadow.example.test"
	wantAllow(t, "shadow hop without a token", mustCheck(t, client, noToken.request()))
	unknown := mcpPost{host: "shadow.example.test", path: "/other", authorization: "Bearer x", body: toolsListBody}
	wantDeny(t, "no hop: the top-level mode (enforce)", mustCheck(t, client, unknown.request()), 404, "path_not_found")
}
