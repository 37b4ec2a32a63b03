package extauthz

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mcp-authz/mcp-authz/pkg/connect"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// Connections is the connect feature as Check uses it (pkg/connect).
type Connections interface {
	Status(ctx context.Context, iss, sub string) (map[string]policy.Connection, error)
	Elicit(ctx context.Context, b connect.Binding) (connect.Elicitation, error)
	Inject(ctx context.Context, iss, sub string, providers []string) (connect.Injection, error)
	Headers() []string
	RecordCapabilities(iss, sub, cid string, url bool)
	URLCapable(iss, sub, cid string) bool
	SealState(b connect.Binding, t connect.RequestTarget) (string, error)
	CheckState(state, iss, sub, cid string, t connect.RequestTarget) error
}

// CodeURLElicitationRequired is MCP 2025-11-25's URLElicitationRequiredError.
const CodeURLElicitationRequired = -32042

// mrtrMethods may be answered with input_required (2026-07-28, MRTR).
var mrtrMethods = map[string]bool{"tools/call": true, "prompts/get": true, "resources/read": true}

// elicitFacts are what the connect feature reads from a request body beyond
// the parser's message: declared URL-elicitation support and requestState.
type elicitFacts struct {
	urlCapable bool
	state      string
}

// readElicitFacts decodes the (already strictly parsed, bounded) body for
// params.capabilities (initialize), params._meta client capabilities
// (2026-07-28) and params.requestState. A body that does not decode gives none.
func readElicitFacts(body []byte, rev mcp.Revision) elicitFacts {
	var m struct {
		Params struct {
			Capabilities json.RawMessage            `json:"capabilities"`
			Meta         map[string]json.RawMessage `json:"_meta"`
			RequestState string                     `json:"requestState"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &m) != nil {
		return elicitFacts{}
	}
	caps := m.Params.Capabilities
	if rev == mcp.Rev20260728 {
		caps = m.Params.Meta["io.modelcontextprotocol/clientCapabilities"]
	}
	var c struct {
		Elicitation *struct {
			URL json.RawMessage `json:"url"`
		} `json:"elicitation"`
	}
	_ = json.Unmarshal(caps, &c)
	url := c.Elicitation != nil && len(c.Elicitation.URL) > 0 && string(c.Elicitation.URL) != "null"
	return elicitFacts{urlCapable: url, state: m.Params.RequestState}
}

// connectionFacts runs before the policy: it records a 2025-11-25 client's
// capabilities, refuses a tampered or mismatched requestState of ours and
// fills input.connections for the methods connections apply to.
func (s *Server) connectionFacts(ctx context.Context, v *view, msg *mcp.Message, rev mcp.Revision, p *identity.Principal, in *policy.Input) (elicitFacts, error) {
	c := s.opts.Connections
	if c == nil || msg.Kind != mcp.KindRequest {
		return elicitFacts{}, nil
	}
	if msg.Method != "initialize" && !mrtrMethods[msg.Method] {
		return elicitFacts{}, nil
	}
	f := readElicitFacts(v.bodyBytes(), rev)
	if msg.Method == "initialize" {
		c.RecordCapabilities(p.Issuer, p.Subject, p.ClientID, f.urlCapable)
		return f, nil
	}
	if connect.OwnsState(f.state) {
		if err := c.CheckState(f.state, p.Issuer, p.Subject, p.ClientID, target(msg)); err != nil {
			return f, denial.New(denial.InvalidRequestState, err)
		}
	}
	conns, err := c.Status(ctx, p.Issuer, p.Subject)
	if err != nil {
		return f, denial.New(denial.CredentialStoreUnavailable, err)
	}
	in.Connections = conns
	return f, nil
}

func target(msg *mcp.Message) connect.RequestTarget {
	return connect.RequestTarget{Method: msg.Method, Name: msg.Name}
}

// afterDecision turns a needs_connection decision into an elicitation and
// gives an allowed call its connections' credentials.
func (s *Server) afterDecision(ctx context.Context, o outcome, f elicitFacts, msg *mcp.Message, rev mcp.Revision, p *identity.Principal, h hop.Hop) outcome {
	c := s.opts.Connections
	if c == nil || o.decision == nil {
		return o
	}
	if n := o.decision.NeedsConnection; n != nil {
		return s.elicit(ctx, f, msg, rev, p, h, connect.Binding{Issuer: p.Issuer, Subject: p.Subject,
			ClientID: p.ClientID, Provider: n.Provider, Scopes: n.Scopes})
	}
	if !o.allow {
		return o
	}
	o.connHeaders, o.connAll = map[string]string{}, c.Headers()
	if len(o.decision.Connections) == 0 {
		return o
	}
	inj, err := c.Inject(ctx, p.Issuer, p.Subject, o.decision.Connections)
	var nc *connect.ErrNotConnected
	switch {
	case errors.As(err, &nc):
		e := s.elicit(ctx, f, msg, rev, p, h, connect.Binding{Issuer: p.Issuer, Subject: p.Subject,
			ClientID: p.ClientID, Provider: nc.Provider})
		if e.cause == nil {
			e.cause = err // "(refresh failed)" in the debug line: why a connected user is asked again
		}
		return e
	case err != nil:
		return s.fail(denial.New(denial.CredentialStoreUnavailable, err), msg.ID, h)
	}
	o.connHeaders, o.connVersions = inj.Headers, inj.Versions
	return o
}

// guardConnections makes every allow strip client copies of the provider
// headers it does not set: not only calls whose decision names connections,
// but also a shadow-mode allow of a connection_required call and allows
// without a policy decision. Only the gate ever sets a provider header.
func (s *Server) guardConnections(o outcome) outcome {
	if c := s.opts.Connections; c != nil && o.allow && o.connAll == nil {
		o.connHeaders, o.connAll = map[string]string{}, c.Headers()
	}
	return o
}

// elicit answers with a URL-mode elicitation: 2026-07-28 input_required on
// the MRTR methods for a client declaring elicitation.url in _meta,
// 2025-11-25 -32042 for a client that declared it at initialize, and to
// every other request a plain JSON-RPC error naming the URL. HTTP 200.
func (s *Server) elicit(ctx context.Context, f elicitFacts, msg *mcp.Message, rev mcp.Revision, p *identity.Principal, h hop.Hop, b connect.Binding) outcome {
	c := s.opts.Connections
	if msg.Kind != mcp.KindRequest {
		return outcome{reason: string(denial.ConnectionRequired), status: 403, id: msg.ID}
	}
	e, err := c.Elicit(ctx, b)
	if err != nil {
		return s.fail(denial.New(denial.CredentialStoreUnavailable, err), msg.ID, h)
	}
	o := outcome{reason: string(denial.ConnectionRequired), status: 200, id: msg.ID}
	params := map[string]any{"mode": "url", "elicitationId": e.ID, "url": e.URL, "message": e.Message}
	switch {
	case rev == mcp.Rev20260728 && mrtrMethods[msg.Method] && f.urlCapable:
		state, err := c.SealState(b, target(msg))
		if err != nil {
			return s.fail(denial.New(denial.Internal, err), msg.ID, h)
		}
		o.body = resultBody(msg.ID, map[string]any{"resultType": "input_required", "requestState": state,
			"inputRequests": map[string]any{"connect_" + b.Provider: map[string]any{"method": "elicitation/create", "params": params}}})
	case rev == mcp.Rev20251125 && c.URLCapable(p.Issuer, p.Subject, p.ClientID):
		o.rpcCode = CodeURLElicitationRequired
		o.rpcMessage = "This request requires more information."
		o.rpcData = map[string]any{"elicitations": []any{params}}
	default:
		o.rpcCode = CodePolicyDenied
		o.rpcMessage = "Connect your " + b.Provider + " account at " + e.URL + " and retry."
		o.rpcData = map[string]any{"url": e.URL}
	}
	return o
}

// resultBody writes a JSON-RPC result with the id echoed byte-exact.
func resultBody(id json.RawMessage, result map[string]any) string {
	r, _ := json.Marshal(result)
	idStr := "null"
	if len(id) > 0 {
		idStr = string(id)
	}
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.WriteString(idStr)
	b.WriteString(`,"result":`)
	b.Write(r)
	b.WriteString(`}`)
	return b.String()
}

// withConnections puts the connections' credentials upstream, each in its
// provider's header with overwrite, and removes client copies of every
// provider header we do not set (a header we set is never listed for
// removal: Envoy removes after it sets).
func withConnections(hs []*corev3.HeaderValueOption, remove []string, set map[string]string, all []string, sent mcp.Headers) ([]*corev3.HeaderValueOption, []string) {
	ok := make([]*corev3.HeaderValueOption, 0, len(hs)+len(set))
	for _, h := range hs {
		if !slices.Contains(all, h.GetHeader().GetKey()) { // only we set provider headers
			ok = append(ok, h)
		}
	}
	for _, name := range all {
		if tok, ours := set[name]; ours {
			ok = append(ok, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: name, Value: tok},
				AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
				Append:       wrapperspb.Bool(false), //nolint:staticcheck // SA1019: deprecated, but Envoys that ignore append_action on request headers read it
			})
			continue
		}
		if len(sent.Values(name)) > 0 {
			remove = append(remove, name)
		}
	}
	return ok, remove
}
