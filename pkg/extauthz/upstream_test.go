package extauthz

import (
	"context"
	"errors"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/upstream"
)

// fakeTokens returns a fixed token (or error) and records the request.
type fakeTokens struct {
	tok string
	err error
	got *upstream.Request
}

func (f *fakeTokens) Token(_ context.Context, r upstream.Request) (string, error) {
	f.got = &r
	return f.tok, f.err
}

// toolDecider allows and fills input.tool as the engine does.
type toolDecider struct{ d policy.Decision }

func (t toolDecider) Decide(_ context.Context, in *policy.Input) (policy.Decision, error) {
	in.Tool = &policy.Tool{ID: "issues/" + in.MCP.Tool, Registered: true, Approved: true, ArgumentsValid: true}
	return t.d, nil
}

func TestCheckUpstreamToken(t *testing.T) {
	tests := []struct {
		name       string
		d          policy.Decision
		tokens     *fakeTokens
		wantSet    []*corev3.HeaderValueOption
		wantRemove []string
		wantReason string
	}{
		{name: "minted token overwrites, caller credentials removed", tokens: &fakeTokens{tok: "minted"},
			d:          policy.Decision{Allow: true, Reason: "allowed"},
			wantSet:    []*corev3.HeaderValueOption{tokenOption("minted")},
			wantRemove: []string{"cookie", "dpop", "proxy-authorization"}},
		{name: "policy header never removed, policy authorization replaced", tokens: &fakeTokens{tok: "minted"},
			d: policy.Decision{Allow: true, Reason: "allowed", UpstreamHeaders: map[string]string{"authorization": "Basic x", "cookie": "ours=1"}},
			wantSet: []*corev3.HeaderValueOption{tokenOption("minted"),
				{Header: &corev3.HeaderValue{Key: "cookie", Value: "ours=1"}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}},
			wantRemove: []string{"dpop", "proxy-authorization"}},
		{name: "passthrough sets nothing", tokens: &fakeTokens{}, d: policy.Decision{Allow: true, Reason: "allowed"}},
		{name: "mint failure denies", tokens: &fakeTokens{err: denial.New(denial.TokenMintFailed, errors.New("no key"))},
			d: policy.Decision{Allow: true, Reason: "allowed"}, wantReason: "token_mint_failed"},
		{name: "exchange failure denies", tokens: &fakeTokens{err: denial.New(denial.TokenExchangeFailed, errors.New("sts down"))},
			d: policy.Decision{Allow: true, Reason: "allowed"}, wantReason: "token_exchange_failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, toolDecider{tc.d}, func(o *Options) { o.Tokens = tc.tokens })
			spec := baseSpec(mint(t, map[string]any{"client_id": "app-1"}))
			spec.headers["cookie"] = "session=1"
			resp, err := s.Check(context.Background(), spec.build())
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantReason != "" {
				if d := viewDenied(t, resp); d.status != 503 || d.reason != tc.wantReason {
					t.Errorf("deny %d %q; want 503 %q", d.status, d.reason, tc.wantReason)
				}
				return
			}
			ok := resp.GetOkResponse()
			if diff := cmp.Diff(tc.wantSet, ok.GetHeaders(), protocmp.Transform()); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRemove, ok.GetHeadersToRemove()); diff != "" {
				t.Errorf("headers_to_remove (-want +got):\n%s", diff)
			}
			r := tc.tokens.got
			if r == nil || r.CallScope != "mcp:tools/call:issues/search_issues" || r.Actor != "app-1" || r.Resource != testResource || r.SubjectToken == "" {
				t.Errorf("token request = %+v; want the call scope, client as actor, the hop and the caller's token", r)
			}
		})
	}
}

func tokenOption(tok string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "authorization", Value: "Bearer " + tok},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, Append: wrapperspb.Bool(false)} //nolint:staticcheck // SA1019: the deprecated append is part of the contract
}

func TestCallScope(t *testing.T) {
	tests := []struct {
		name string
		in   policy.Input
		want string
		ok   bool
	}{
		{"tools/call", policy.Input{MCP: policy.MCP{Method: "tools/call"}, Tool: &policy.Tool{ID: "issues/get_issue"}}, "mcp:tools/call:issues/get_issue", true},
		{"tools/call without a tool id", policy.Input{MCP: policy.MCP{Method: "tools/call"}}, "", false},
		{"tools/list", policy.Input{MCP: policy.MCP{Method: "tools/list"}}, "mcp:tools/list", true},
		{"response", policy.Input{MCP: policy.MCP{Kind: "response"}}, "mcp:response", true},
		{"GET stream", policy.Input{MCP: policy.MCP{Kind: "none"}, HTTP: policy.HTTP{Method: "GET"}}, "mcp:get", true},
		{"tool id with a space", policy.Input{MCP: policy.MCP{Method: "tools/call"}, Tool: &policy.Tool{ID: "issues/a b"}}, "mcp:tools/call:issues/a b", false},
	}
	for _, tc := range tests {
		got, ok := callScope(&tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("callScope(%s) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// callScopeOfMethod is callScope's reference for a method other than
// tools/call: the concatenation the table replaces.
func callScopeOfMethod(method string) (string, bool) {
	s := "mcp:" + method
	return s, validScopeToken(s)
}

// TestCallScopeMethodTable: every method of the table, and methods it does
// not hold, give the concatenated scope.
func TestCallScopeMethodTable(t *testing.T) {
	methods := []string{"x/unknown", "tools/list ", "TOOLS/LIST", "a b", "\xff"}
	for m := range methodScopes {
		methods = append(methods, m)
	}
	for _, m := range methods {
		checkCallScopeMethod(t, m)
	}
}

func checkCallScopeMethod(t *testing.T, m string) {
	t.Helper()
	if m == "" || m == "tools/call" {
		return
	}
	got, ok := callScope(&policy.Input{MCP: policy.MCP{Method: m}})
	want, wok := callScopeOfMethod(m)
	if ok != wok || got != want {
		t.Fatalf("callScope(%q) = %q, %v; want %q, %v", m, got, ok, want, wok)
	}
}

// FuzzCallScopeMethod: any method name.
func FuzzCallScopeMethod(f *testing.F) {
	f.Add("tools/list")
	f.Add("notifications/initialized")
	f.Add("x y")
	f.Fuzz(checkCallScopeMethod)
}
