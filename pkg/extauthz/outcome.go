package extauthz

import (
	"encoding/json"
	"errors"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// JSON-RPC error codes we send.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeInvalidParams  = -32602
	codeInternal       = -32603
	codeHeaderMismatch = -32020
	codeUnsupportedVer = -32022
	codeRateLimited    = CodeRateLimited
	// CodePolicyDenied is the JSON-RPC error code of a policy denial. It is in
	// the implementation-defined server range and collides with none of MCP's
	// (-32002, -32020…-32022, -32042) nor the TypeScript SDK's -32000/-32001.
	CodePolicyDenied = -32003
)

// outcome is the decision for one request, before it becomes a CheckResponse.
type outcome struct {
	allow     bool
	reason    string
	status    int
	rpcCode   int               // 0: no JSON-RPC body
	rpcData   map[string]any    // error.data
	id        json.RawMessage   // echoed byte-exact; nil means null
	challenge string            // WWW-Authenticate value
	allowHdr  bool              // add Allow on a 405
	toolRes   bool              // answer as a CallToolResult (deny_format tool_result)
	nonce     string            // DPoP-Nonce to send (RFC 9449 §8), "" for none
	headers   map[string]string // response headers of rate limits (allow and deny)
	decision  *policy.Decision
	input     *policy.Input // the decided input of an allow, for the ext_proc handoff
	cause     error         // for logs only
	// upstreamToken replaces the caller's token upstream ("" passthrough).
	upstreamToken string
	// body, when set, is the whole JSON-RPC answer (an input_required result).
	body string
	// rpcMessage overrides the generic JSON-RPC error message.
	rpcMessage string
	// connHeaders are the connections' credentials to set upstream (header →
	// token); non-nil on an allow when connections are configured.
	connHeaders map[string]string
	// connAll are every provider header: client copies we do not set are removed.
	connAll []string
	// connVersions name the injected credentials by provider (not secret),
	// for the ext_proc handoff: an upstream refusal marks exactly them stale.
	connVersions map[string]string
}

// failure says how a reason is answered when no policy decided it.
type failure struct {
	status  int
	rpcCode int // 0: no JSON-RPC body
}

// failures is the denial table of the README ("Denials"), for every reason
// that is not a policy decision.
var failures = map[denial.Reason]failure{
	denial.PathNotFound:               {404, 0},
	denial.UnknownHop:                 {404, 0},
	denial.MethodNotAllowed:           {405, 0},
	denial.PartialBody:                {413, 0},
	denial.BodyTooLarge:               {413, 0},
	denial.ContentLength:              {413, 0},
	denial.ContentEncoding:            {415, 0},
	denial.ContentType:                {415, 0},
	denial.OriginNotAllowed:           {403, 0},
	denial.DuplicateHeader:            {400, 0},
	denial.InvalidHeaderValue:         {400, 0},
	denial.UnexpectedBody:             {400, 0},
	denial.ProtocolVersion:            {400, codeUnsupportedVer},
	denial.ParseError:                 {400, codeParseError},
	denial.InvalidRequest:             {400, codeInvalidRequest},
	denial.InvalidParams:              {400, codeInvalidParams},
	denial.HeaderMismatch:             {400, codeHeaderMismatch},
	denial.MCPMetadataMismatch:        {400, codeInvalidRequest},
	denial.TokenMissing:               {401, 0},
	denial.TokenInvalid:               {401, 0},
	denial.InvalidDPoPProof:           {401, 0},
	denial.UseDPoPNonce:               {401, 0},
	denial.InsufficientScope:          {403, 0},
	denial.ReplayCacheFull:            {503, codeInternal},
	denial.IssuerUnavailable:          {503, codeInternal},
	denial.NoPolicy:                   {503, codeInternal},
	denial.PolicyError:                {503, codeInternal},
	denial.Deadline:                   {503, codeInternal},
	denial.Overloaded:                 {503, codeInternal},
	denial.Internal:                   {503, codeInternal},
	denial.TokenMintFailed:            {503, codeInternal},
	denial.TokenExchangeFailed:        {503, codeInternal},
	denial.InvalidRequestState:        {400, codeInvalidParams},
	denial.CredentialStoreUnavailable: {503, codeInternal},
}

// mcpReasons maps the parser's JSON-RPC codes to reasons.
var mcpReasons = map[int]denial.Reason{
	mcp.CodeParseError:         denial.ParseError,
	mcp.CodeInvalidRequest:     denial.InvalidRequest,
	mcp.CodeInvalidParams:      denial.InvalidParams,
	mcp.CodeHeaderMismatch:     denial.HeaderMismatch,
	mcp.CodeUnsupportedVersion: denial.ProtocolVersion,
}

// fail turns an error into a deny outcome. id is the request id to echo
// (nil when unknown); h is the hop for the challenge's resource_metadata.
func (s *Server) fail(err error, id json.RawMessage, h hop.Hop) outcome {
	reason, detail := classify(err)
	f, ok := failures[reason]
	if !ok {
		reason, f = denial.Internal, failures[denial.Internal]
	}
	o := outcome{reason: string(reason), status: f.status, rpcCode: f.rpcCode, cause: err}
	var me *mcp.Error
	if errors.As(err, &me) && me.ID != nil {
		id = me.ID
	}
	if o.rpcCode != codeParseError {
		o.id = id
	}
	switch {
	case f.status == 401:
		o.challenge = s.challenge(reason, detail, h)
		if reason == denial.InvalidDPoPProof || reason == denial.UseDPoPNonce {
			o.nonce = s.freshNonce()
		}
	case reason == denial.MethodNotAllowed:
		o.allowHdr = true
	case reason == denial.ProtocolVersion:
		o.rpcData = map[string]any{"supported": s.supported}
	case f.status == 503 && id == nil:
		o.rpcCode = 0 // -32603 only when there is an id to answer
	}
	return o
}

// classify returns the reason and client-safe detail of err.
func classify(err error) (denial.Reason, string) {
	if errors.Is(err, mcp.ErrTooLarge) {
		return denial.BodyTooLarge, ""
	}
	var me *mcp.Error
	if errors.As(err, &me) {
		if r, ok := mcpReasons[me.Code]; ok {
			return r, ""
		}
	}
	var d *denial.Error
	if errors.As(err, &d) {
		return d.Reason, d.Detail
	}
	return denial.Internal, ""
}
