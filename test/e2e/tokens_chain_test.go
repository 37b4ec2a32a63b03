package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Two hops of an agent chain: hop A fronts the planner's MCP server and
// mints tokens for hop B (the issues server the planner's agent calls);
// hop B trusts hop A's JWKS, fetched from A's public listener.
const (
	hopAIssuer   = "https://authz-a.example.test"
	hopBResource = "https://b.example.test/mcp"
	agentA       = "spiffe://cluster.local/ns/agents/sa/agent-a"
)

const hopAConfig = `
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
  issuer: ` + hopAIssuer + `
  signing_key_files: [%s]
upstream_token:
  mode: mint
  audience: ` + hopBResource + `
`

const hopBConfig = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
public_listen: 127.0.0.1:0
resources:
  - host: b.example.test
    path: /mcp
    resource: ` + hopBResource + `
issuers:
  - issuer: ` + hopAIssuer + `
    jwks_url: http://%s/.well-known/jwks.json
    insecure_http: true # loopback test only
    algorithms: [ES256]
    require_typ: at+jwt
policy:
  deadline: 5s
token_minting:
  issuer: ` + mintIssuer + `
  signing_key_files: [%s]
upstream_token:
  mode: mint
`

// fromWorkload sets Envoy's source.principal of req.
func fromWorkload(req *authv3.CheckRequest, principal string) *authv3.CheckRequest {
	req.Attributes.Source = &authv3.AttributeContext_Peer{Principal: principal}
	return req
}

// nestedAct builds an act claim of subs, outermost first.
func nestedAct(subs ...string) map[string]any {
	var act map[string]any
	for i := len(subs) - 1; i >= 0; i-- {
		a := map[string]any{"sub": subs[i]}
		if act != nil {
			a["act"] = act
		}
		act = a
	}
	return act
}

// TestDelegationChainTwoHops: the planner calls hop A; the token hop A mints
// is presented by agent A at hop B, which verifies it against A's served
// JWKS and mints its own, with agent A as the current actor and the planner
// nested as the prior one. A chain that grows past the depth limit at hop B
// is denied there.
func TestDelegationChainTwoHops(t *testing.T) {
	a, clientA := startAppYAML(t, fmt.Sprintf(hopAConfig, writeSigningKey(t, t.TempDir(), "a.pem", "ES256")))
	b, clientB := startAppYAML(t, fmt.Sprintf(hopBConfig, a.Addr("public"), writeSigningKey(t, t.TempDir(), "b.pem", "ES256")))

	hopA := func(caller string) string {
		t.Helper()
		req := fromWorkload(mcpPost{authorization: "Bearer " + caller, body: toolsListBody}.request(), callerWorkload)
		resp := mustCheck(t, clientA, req)
		wantAllow(t, "hop A", resp)
		return bearerSet(resp.GetOkResponse())
	}
	hopB := func(tok string) *authv3.CheckResponse {
		t.Helper()
		req := fromWorkload(mcpPost{host: "b.example.test", authorization: "Bearer " + tok, body: toolsListBody}.request(), agentA)
		return mustCheck(t, clientB, req)
	}

	respB := hopB(hopA(mintAccess(t, nil)))
	wantAllow(t, "hop B with hop A's token", respB)
	m, err := verifyMinted(t, fetchJWKS(t, b.Addr("public")), bearerSet(respB.GetOkResponse()), hopBResource, time.Now())
	if err != nil {
		t.Fatalf("hop B's token: %v", err)
	}
	if got, want := jsonOf(m.claims["act"]), jsonOf(nestedAct(agentA, callerWorkload)); got != want {
		t.Errorf("hop B's act = %s; want %s (agent A current, the planner prior)", got, want)
	}
	if m.claims["sub"] != "alice" {
		t.Errorf("hop B's sub = %v; want alice, the user all along", m.claims["sub"])
	}

	// Three prior actors reach hop A (4 with the planner: allowed there);
	// at hop B agent A makes it 5, past the default depth of 4.
	deep := mintAccess(t, map[string]any{"act": nestedAct("x", "y", "z")})
	wantDeny(t, "hop B past the depth limit", hopB(hopA(deep)), 200, "delegation_too_deep")
}

// TestDelegationChainMayAct: a token whose may_act names the planner is
// accepted from the planner and refused from any other workload.
func TestDelegationChainMayAct(t *testing.T) {
	_, client := startAppYAML(t, e2eConfig)
	tok := mintAccess(t, map[string]any{"may_act": map[string]any{"sub": callerWorkload}})
	list := func(workload string) *authv3.CheckResponse {
		return mustCheck(t, client, fromWorkload(mcpPost{authorization: "Bearer " + tok, body: toolsListBody}.request(), workload))
	}
	wantAllow(t, "the workload may_act names", list(callerWorkload))
	wantDeny(t, "another workload", list("spiffe://cluster.local/ns/evil/sa/x"), 200, "actor_not_allowed")
	wantDeny(t, "no known actor", list(""), 200, "actor_not_allowed")
}

// echoActPolicy allows and returns the chain it saw as dynamic metadata.
const echoActPolicy = `package mcp.authz

decision := {"allow": true, "reason": "allowed", "dynamic_metadata": {"act": input.principal.act, "may_act": object.get(input.principal, "may_act", null)}}
`

// TestDelegationChainInput: input.principal.act is the chain, current actor
// (the calling workload) first, then the token's act chain outermost first;
// may_act is the token's claim.
func TestDelegationChainInput(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"policy.rego": echoActPolicy, "data.json": emptyData} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, client := startAppYAML(t, e2eConfig+"bundle:\n  path: "+dir+"\n")
	tok := mintAccess(t, map[string]any{"act": map[string]any{"sub": "agent-1", "iss": "https://auth.example.test", "act": map[string]any{"sub": "app-0"}},
		"may_act": map[string]any{"sub": callerWorkload}})
	resp := mustCheck(t, client, fromWorkload(mcpPost{authorization: "Bearer " + tok, body: toolsListBody}.request(), callerWorkload))
	wantAllow(t, "echo", resp)
	md := resp.GetDynamicMetadata().AsMap()
	want := `[{"sub":"` + callerWorkload + `"},{"iss":"https://auth.example.test","sub":"agent-1"},{"sub":"app-0"}]`
	if got := jsonOf(md["act"]); got != want {
		t.Errorf("input.principal.act = %s; want %s", got, want)
	}
	if got := jsonOf(md["may_act"]); got != `{"sub":"`+callerWorkload+`"}` {
		t.Errorf("input.principal.may_act = %s", got)
	}
}
