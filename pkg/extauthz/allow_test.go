package extauthz

import (
	"context"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

func TestCheckAllowHeaders(t *testing.T) {
	dec := &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed",
		UpstreamHeaders: map[string]string{"x-mcp-authz-sub": "alice"},
		ResponseHeaders: map[string]string{"x_trace": "t1"}, // any RFC 9110 token, as the policy decoder accepts
		DynamicMetadata: map[string]any{"tool_id": "issues/search_issues"}}}
	s := newTestServer(t, dec, nil)
	spec := baseSpec(mint(t, nil))
	spec.headers["x-mcp-authz-sub"] = "mallory" // overwritten, not removed
	spec.headers["x-mcp-authz-roles"] = "admin" // spoofed: removed
	resp, err := s.Check(context.Background(), spec.build())
	if err != nil || resp.GetStatus().GetCode() != 0 {
		t.Fatalf("Check = %v, %v; want OK", resp, err)
	}
	ok := resp.GetOkResponse()
	wantSet := []*corev3.HeaderValueOption{{
		Header:       &corev3.HeaderValue{Key: "x-mcp-authz-sub", Value: "alice"},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}}
	if diff := cmp.Diff(wantSet, ok.GetHeaders(), protocmp.Transform()); diff != "" {
		t.Errorf("upstream headers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"x-mcp-authz-roles"}, ok.GetHeadersToRemove()); diff != "" {
		t.Errorf("headers_to_remove (-want +got):\n%s", diff)
	}
	if got := ok.GetResponseHeadersToAdd(); len(got) != 1 || got[0].GetHeader().GetKey() != "x_trace" {
		t.Errorf("response_headers_to_add = %v; want x_trace", got)
	}
	if got := resp.GetDynamicMetadata().GetFields()["tool_id"].GetStringValue(); got != "issues/search_issues" {
		t.Errorf("dynamic_metadata.tool_id = %q", got)
	}
}

func TestCheckInputDocument(t *testing.T) {
	dec := &fakeDecider{d: allowDecision}
	// The issuer ignores a DPoP header beside Bearer, so the header reaches
	// the view and must still be kept from the policy.
	s := newTestServerIssuer(t, dec, nil, func(ic *identity.IssuerConfig) { ic.DPoP.IgnoreProofWithBearer = true })
	spec := baseSpec(mint(t, map[string]any{"sub": "bob", "roles": []string{"analyst"}, "azp": "cli"}))
	spec.headers["cookie"] = "secret"
	spec.headers["dpop"] = "proof"
	spec.headers["mcp-session-id"] = "s-1"
	spec.rawBody = true
	spec.path = "/mcp?access_token=secret"
	if _, err := s.Check(context.Background(), spec.build()); err != nil {
		t.Fatal(err)
	}
	in := dec.got
	if in == nil {
		t.Fatal("decider not called")
	}
	for _, h := range []string{"authorization", "cookie", "dpop", ":path"} {
		if _, ok := in.HTTP.Headers[h]; ok {
			t.Errorf("input.http.headers has %q; credentials and pseudo-headers must not reach policy", h)
		}
	}
	checks := []struct{ name, got, want string }{
		{"mcp.method", in.MCP.Method, "tools/call"},
		{"mcp.tool", in.MCP.Tool, "search_issues"},
		{"mcp.id", string(in.MCP.ID), "7"},
		{"mcp.revision", in.MCP.Revision, "2025-06-18"},
		{"mcp.kind", in.MCP.Kind, "request"},
		{"mcp.session_id", in.MCP.SessionID, "s-1"},
		{"principal.sub", in.Principal.Subject, "bob"},
		{"principal.client_id", in.Principal.ClientID, "cli"},
		{"resource.id", in.Resource.ID, testResource},
		{"request.id", in.Request.ID, "r-1"},
		{"http.path (query never reaches policy)", in.HTTP.Path, "/mcp"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("input.%s = %q; want %q", c.name, c.got, c.want)
		}
	}
	if !in.MCP.KnownMethod || in.MCP.Arguments["query"] != "x" {
		t.Errorf("input.mcp = %+v; want known tools/call with arguments", in.MCP)
	}
}

func TestCheckHeaderMapRepeats(t *testing.T) {
	tok := mint(t, nil)
	base := [][2]string{
		{":authority", "mcp.example.test"}, {":method", "POST"}, {":path", "/mcp"},
		{"authorization", "Bearer " + tok}, {"content-type", "application/json"},
		{"mcp-protocol-version", "2025-06-18"},
	}
	for _, h := range []string{"authorization", "content-type", "mcp-method", "mcp-name", "mcp-protocol-version", "mcp-param-region"} {
		t.Run(h, func(t *testing.T) {
			s := newTestServer(t, &fakeDecider{d: allowDecision}, nil)
			spec := reqSpec{method: "POST", path: "/mcp", body: toolCall, headerMap: append(append([][2]string{}, base...), [2]string{h, "x"}, [2]string{h, "y"})}
			resp, _ := s.Check(context.Background(), spec.build())
			assertDeny(t, viewDenied(t, resp), want{status: 400, reason: "duplicate_header"})
		})
	}
	t.Run("single copies allowed", func(t *testing.T) {
		s := newTestServer(t, &fakeDecider{d: allowDecision}, nil)
		spec := reqSpec{method: "POST", path: "/mcp", body: toolCall, rawBody: true, headerMap: base}
		resp, _ := s.Check(context.Background(), spec.build())
		if resp.GetStatus().GetCode() != 0 {
			t.Errorf("Check = %v; want allow", resp)
		}
	})
}

func TestCheckAllowedOrigin(t *testing.T) {
	s := newTestServer(t, &fakeDecider{d: allowDecision}, nil)
	spec := baseSpec(mint(t, nil))
	spec.headers["origin"] = "https://app.example.test"
	resp, _ := s.Check(context.Background(), spec.build())
	if resp.GetStatus().GetCode() != 0 {
		t.Errorf("Check with an allowed Origin = %v; want allow", resp)
	}
}

func TestCheckOverloaded(t *testing.T) {
	s := newTestServer(t, &fakeDecider{d: allowDecision}, func(o *Options) { o.MaxInFlight = 1 })
	s.slots <- struct{}{} // occupy the only slot
	resp, _ := s.Check(context.Background(), baseSpec(mint(t, nil)).build())
	<-s.slots
	assertDeny(t, viewDenied(t, resp), want{status: 503, reason: "overloaded"})
}

// TestCheckDestinationPrincipal: the hop comes from Envoy's
// destination.principal when hops are pinned, not from the Host header.
func TestCheckDestinationPrincipal(t *testing.T) {
	const issues = "spiffe://cluster.local/ns/mcp/sa/issues"
	dec := &fakeDecider{d: allowDecision}
	s := newTestServer(t, dec, func(o *Options) {
		o.Hops = hop.New([]hop.Hop{
			{Path: "/mcp", Resource: testResource, PublicOrigin: "https://mcp.example.test", DestinationPrincipal: issues},
			{Host: "wiki.mcp", Path: "/mcp", Resource: "https://wiki.example.test/mcp", PublicOrigin: "https://wiki.example.test"},
		})
	})
	req := baseSpec(mint(t, nil)).build()
	req.Attributes.Request.Http.Host = "wiki.mcp"
	req.Attributes.Request.Http.Headers[":authority"] = "wiki.mcp"
	req.Attributes.Destination = &authv3.AttributeContext_Peer{Principal: issues}
	resp, _ := s.Check(context.Background(), req)
	if resp.GetStatus().GetCode() != 0 || dec.got == nil || dec.got.Resource.ID != testResource {
		t.Fatalf("Check at the pinned workload with Host wiki.mcp = %v (resource %v); want allow for %s", resp, dec.got, testResource)
	}
	req.Attributes.Destination = nil // an unpinned destination: the Host picks the wiki hop, whose audience the token lacks
	resp, _ = s.Check(context.Background(), req)
	assertDeny(t, viewDenied(t, resp), want{status: 401, reason: "token_invalid", challenge: `resource_metadata="https://wiki.example.test/.well-known/oauth-protected-resource/mcp"`})
}

// panicDecider panics, as a buggy policy hook might.
type panicDecider struct{}

func (panicDecider) Decide(context.Context, *policy.Input) (policy.Decision, error) { panic("boom") }

// TestCheckNeverPanics: a nil request and a panic inside the pipeline are
// both answered with a deny, never a gRPC error or a crash; the panic's 503
// echoes the request id.
func TestCheckNeverPanics(t *testing.T) {
	s := newTestServer(t, panicDecider{}, nil)
	resp, err := s.Check(context.Background(), nil)
	if err != nil || resp.GetDeniedResponse() == nil {
		t.Errorf("Check(nil) = %v, %v; want a denied_response", resp, err)
	}
	resp, err = s.Check(context.Background(), baseSpec(mint(t, nil)).build())
	if err != nil {
		t.Fatalf("Check with a panicking decider returned a gRPC error %v", err)
	}
	assertDeny(t, viewDenied(t, resp), want{status: 503, reason: "internal_error", rpcCode: -32603, id: "7"})
}
