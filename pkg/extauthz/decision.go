package extauthz

import (
	"fmt"
	"strings"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// credentialHeaders never reach the policy input (or decision logs).
var credentialHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "dpop": true, "cookie": true,
}

// input builds the policy input document.
func (s *Server) input(v *view, h hop.Hop, msg *mcp.Message, rev mcp.Revision, p *identity.Principal) *policy.Input {
	in := &policy.Input{
		HTTP: policy.HTTP{Method: v.method, Path: v.pathOnly(), Host: v.host, Scheme: v.scheme, Headers: inputHeaders(v)},
		MCP: policy.MCP{
			Revision: string(rev), Kind: string(msg.Kind), Method: msg.Method, ID: msg.ID,
			Name: msg.Name, Tool: msg.Tool, Arguments: msg.Arguments, SessionID: v.first("mcp-session-id"),
		},
		Principal: policy.Principal{
			Subject: p.Subject, Issuer: p.Issuer, Audience: p.Audience, Scopes: p.Scopes, Roles: p.Roles,
			RolesError: p.RolesError, ClientID: p.ClientID, TokenType: p.TokenType, Claims: p.Claims,
			Act: delegationChain(v.principal, p), MayAct: policyActor(p.MayAct),
		},
		Workload: policy.Workload{Principal: v.principal, URISANs: s.sans.uriSANs(v.cert)},
		Resource: policy.Resource{ID: h.Resource, Server: h.Server},
		Request:  policy.Request{ID: v.requestID, Time: s.opts.Clock().UTC().Format(time.RFC3339Nano)},
	}
	if msg.Method != "" {
		in.MCP.KnownMethod = mcp.KnownMethod(rev, msg.Method)
	}
	return in
}

// inputHeaders are the request headers without pseudo-headers and
// credentials, repeated values joined with ", ".
func inputHeaders(v *view) map[string]string {
	n := 0
	for k := range v.headers.all() {
		if inputHeader(k) {
			n++
		}
	}
	out := make(map[string]string, n) // sized exactly: half the table of len(names)
	for k, vals := range v.headers.all() {
		if inputHeader(k) {
			out[k] = strings.Join(vals, ", ")
		}
	}
	return out
}

// inputHeader reports whether a header reaches the input.
func inputHeader(name string) bool {
	return !strings.HasPrefix(name, ":") && !credentialHeaders[name]
}

// fromDecision turns a policy decision into an outcome that points to d.
func (s *Server) fromDecision(d *policy.Decision, msg *mcp.Message, h hop.Hop) outcome {
	if err := checkDecisionHeaders(d); err != nil {
		return s.fail(denial.New(denial.PolicyError, err), msg.ID, h)
	}
	if d.Allow {
		return outcome{allow: true, reason: d.Reason, decision: d}
	}
	o := outcome{reason: d.Reason, status: d.HTTPStatus, decision: d, id: msg.ID}
	if o.status == 0 {
		o.status = 403
		if msg.Kind == mcp.KindRequest {
			o.status = s.opts.PolicyDenyStatus
		}
	}
	if c := d.Challenge; c != nil {
		o.challenge = bearerChallenge(c.Error, c.Description, c.Scope, h)
		if c.Scheme == "DPoP" {
			o.challenge = s.dpopChallenge(c.Error, c.Description, h)
			o.nonce = s.freshNonce()
		}
	}
	if msg.Kind == mcp.KindRequest && d.Challenge == nil && o.status != 401 {
		o.rpcCode = CodePolicyDenied
		if d.RPCError != nil && d.RPCError.Code != 0 {
			o.rpcCode = d.RPCError.Code
		}
	}
	if s.toolResultDeny(o, *d, msg) {
		o.toolRes, o.status = true, 200
		return o
	}
	if o.rpcCode == 0 && (o.status < 400 || !validStatus(o.status)) {
		o.status = 403 // a deny without a JSON-RPC error must never look like success
	}
	if !validStatus(o.status) {
		o.status = 403
	}
	return o
}

// checkDecisionHeaders applies the policy decoder's header rule at the
// boundary that writes headers to Envoy, for any Decider.
func checkDecisionHeaders(d *policy.Decision) error {
	for _, m := range []map[string]string{d.UpstreamHeaders, d.ResponseHeaders} {
		for k, v := range m {
			if !policy.ValidHeaderName(k) || !policy.ValidHeaderValue(v) {
				return fmt.Errorf("policy set an invalid header %q", k)
			}
		}
	}
	return nil
}

// challenge builds the WWW-Authenticate value for an identity failure.
func (s *Server) challenge(reason denial.Reason, detail string, h hop.Hop) string {
	switch reason {
	case denial.TokenMissing:
		return bearerChallenge("", "", "", h)
	case denial.InvalidDPoPProof:
		return s.dpopChallenge("invalid_dpop_proof", detail, h)
	case denial.UseDPoPNonce:
		return s.dpopChallenge("use_dpop_nonce", detail, h)
	}
	if detail == "" {
		detail = "the access token is not valid"
	}
	return bearerChallenge("invalid_token", detail, "", h)
}

// dpopChallenge builds an RFC 9449 §7.1 challenge listing the accepted
// proof algorithms, pointing at the hop's RFC 9728 metadata like every 401.
func (s *Server) dpopChallenge(errCode, desc string, h hop.Hop) string {
	c := `DPoP error="` + quote(errCode) + `"`
	if desc != "" {
		c += `, error_description="` + quote(desc) + `"`
	}
	if len(s.opts.DPoPAlgs) > 0 {
		c += `, algs="` + strings.Join(s.opts.DPoPAlgs, " ") + `"`
	}
	if h.Resource != "" {
		c += `, resource_metadata="` + quote(identity.MetadataURL(h.PublicOrigin, h.Resource)) + `"`
	}
	return c
}

// bearerChallenge builds an RFC 6750 challenge pointing at the hop's RFC
// 9728 metadata. No error code when there was no token (§3.1).
func bearerChallenge(errCode, desc, scope string, h hop.Hop) string {
	var parts []string
	if errCode != "" {
		parts = append(parts, `error="`+quote(errCode)+`"`)
	}
	if desc != "" {
		parts = append(parts, `error_description="`+quote(desc)+`"`)
	}
	if scope != "" {
		parts = append(parts, `scope="`+quote(scope)+`"`)
	}
	if h.Resource != "" {
		parts = append(parts, `resource_metadata="`+quote(identity.MetadataURL(h.PublicOrigin, h.Resource))+`"`)
	}
	return "Bearer " + strings.Join(parts, ", ")
}

// quote escapes a quoted-string value and drops control characters.
func quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
