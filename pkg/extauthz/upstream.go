package extauthz

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/upstream"
)

// TokenSource produces the token an allowed request carries upstream in
// place of the caller's; "" means the caller's token passes through.
type TokenSource interface {
	Token(ctx context.Context, r upstream.Request) (string, error)
}

// callerCredentials are the caller's headers removed from a request that
// carries a minted or exchanged token upstream. authorization is not among
// them: Envoy removes after it sets, so listing it would strip our token;
// the token we set overwrites the caller's instead.
var callerCredentials = []string{"cookie", "dpop", "proxy-authorization"}

// credentials asks the token source for the upstream token of an allowed
// request; a failure turns the allow into a deny, never a passthrough.
func (s *Server) credentials(ctx context.Context, o outcome, v *view, h hop.Hop, in *policy.Input, p *identity.Principal) outcome {
	if s.opts.Tokens == nil {
		return o
	}
	scope, ok := callScope(in)
	if !ok {
		return s.fail(denial.New(denial.TokenMintFailed, errors.New("the call's name is not a valid scope token")), in.MCP.ID, h)
	}
	r := upstream.Request{Resource: h.Resource, Principal: p, Actor: currentActor(in), SubjectToken: bearerOf(v),
		CallScope: scope, Override: override(o.decision)}
	tok, err := s.opts.Tokens.Token(ctx, r)
	if err != nil {
		return s.fail(err, in.MCP.ID, h)
	}
	o.upstreamToken = tok
	return o
}

// currentActor is the party calling this hop: the calling workload's
// SPIFFE ID, else the OAuth client acting for the user.
func currentActor(in *policy.Input) string {
	if in.Workload.Principal != "" {
		return in.Workload.Principal
	}
	return in.Principal.ClientID
}

// delegationChain is the request's chain for the policy, current actor
// first: the calling workload (else the client), then the token's act
// chain. It is what the minted token's act claim will say.
func delegationChain(workload string, p *identity.Principal) []policy.Actor {
	out := make([]policy.Actor, 0, len(p.Act)+1)
	if cur := workload; cur != "" || p.ClientID != "" {
		if cur == "" {
			cur = p.ClientID
		}
		out = append(out, policy.Actor{Subject: cur})
	}
	for i := range p.Act {
		out = append(out, *policyActor(&p.Act[i]))
	}
	return out
}

func policyActor(a *identity.Actor) *policy.Actor {
	if a == nil {
		return nil
	}
	return &policy.Actor{Subject: a.Subject, Issuer: a.Issuer, ClientID: a.ClientID}
}

// methodScopes are the scopes of the MCP methods other than tools/call,
// built once: callScope's "mcp:" + method without a concatenation per call.
var methodScopes = func() map[string]string {
	out := map[string]string{}
	for _, m := range []string{
		"initialize", "ping", "tools/list", "resources/list", "resources/templates/list", "resources/read",
		"resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete",
		"logging/setLevel", "notifications/initialized", "notifications/cancelled", "notifications/progress",
		"notifications/roots/list_changed", "sampling/createMessage", "elicitation/create", "roots/list",
	} {
		out[m] = "mcp:" + m
	}
	return out
}()

// callScope narrows the upstream token to this one call:
// mcp:tools/call:<canonical tool id>, mcp:<method> for other messages,
// mcp:response, or mcp:get / mcp:delete for a bodiless request.
func callScope(in *policy.Input) (string, bool) {
	var s string
	switch {
	case in.MCP.Method == "tools/call" && in.Tool == nil:
		return "", false // no canonical tool id: never widen to every tool
	case in.MCP.Method == "tools/call":
		s = "mcp:tools/call:" + in.Tool.ID
	case in.MCP.Method != "":
		if s = methodScopes[in.MCP.Method]; s == "" {
			s = "mcp:" + in.MCP.Method
		}
	case in.MCP.Kind == string(mcp.KindResponse):
		s = "mcp:response"
	default:
		s = "mcp:" + strings.ToLower(in.HTTP.Method)
	}
	return s, validScopeToken(s)
}

func validScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// bearerOf is the caller's token without its scheme (the subject_token of
// a token exchange); the identity stage has verified it.
func bearerOf(v *view) string {
	if a := v.headers.get("authorization"); len(a) == 1 {
		_, tok, _ := strings.Cut(strings.TrimSpace(a[0]), " ")
		return strings.TrimSpace(tok)
	}
	return ""
}

func override(d *policy.Decision) *upstream.Override {
	if d == nil || d.UpstreamToken == nil {
		return nil
	}
	u := d.UpstreamToken
	return &upstream.Override{Audience: u.Audience, Scope: u.Scope, TTL: time.Duration(u.TTL) * time.Second, Claims: u.Claims}
}

// tokenHeaders returns the headers that put tok upstream and the caller's
// credentials to remove, never removing a header the response sets.
func tokenHeaders(tok string, set map[string]string) (*corev3.HeaderValueOption, []string) {
	h := &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: "authorization", Value: "Bearer " + tok},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		Append:       wrapperspb.Bool(false), //nolint:staticcheck // SA1019: deprecated, but Envoys that ignore append_action on request headers read it
	}
	var remove []string
	for _, name := range callerCredentials {
		if _, ours := set[name]; !ours {
			remove = append(remove, name)
		}
	}
	return h, remove
}

// withToken adds the upstream token to an OkHttpResponse's headers.
func withToken(headers []*corev3.HeaderValueOption, remove []string, tok string, set map[string]string) ([]*corev3.HeaderValueOption, []string) {
	h, creds := tokenHeaders(tok, set)
	out := make([]*corev3.HeaderValueOption, 0, len(headers)+1)
	for _, o := range headers {
		if o.GetHeader().GetKey() != "authorization" {
			out = append(out, o)
		}
	}
	out = append(out, h)
	sort.Slice(out, func(i, j int) bool { return out[i].GetHeader().GetKey() < out[j].GetHeader().GetKey() })
	remove = append(remove, creds...)
	sort.Strings(remove)
	return out, remove
}
