package extauthz

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// Header names we send.
const (
	// ReasonHeader carries the stable reason of every deny.
	ReasonHeader = "x-mcp-authz-reason"
	// ReservedPrefix marks headers only mcp-authz may set upstream; client
	// copies are removed.
	ReservedPrefix = "x-mcp-authz-"
	// NonceHeader carries a fresh DPoP server nonce (RFC 9449 §8).
	NonceHeader = "dpop-nonce"
)

// rpcMessages are the generic JSON-RPC error messages; never echo input.
var rpcMessages = map[int]string{
	codeParseError:     "Parse error",
	codeInvalidRequest: "Invalid Request",
	codeInvalidParams:  "Invalid params",
	codeInternal:       "Internal error",
	codeHeaderMismatch: "Header mismatch",
	codeUnsupportedVer: "Unsupported protocol version",
	CodePolicyDenied:   "Forbidden by policy",
	codeRateLimited:    "Rate limited",
}

// respond builds the CheckResponse for an outcome.
func respond(v *view, o outcome) *authv3.CheckResponse {
	if o.allow {
		return allowResponse(v, o)
	}
	return denyResponse(o)
}

// allowParts are the messages of an allow, allocated together.
type allowParts struct {
	resp   authv3.CheckResponse
	status status.Status
	oneof  authv3.CheckResponse_OkResponse
	ok     authv3.OkHttpResponse
}

// denyParts are the messages of a deny, allocated together.
type denyParts struct {
	resp   authv3.CheckResponse
	status status.Status
	oneof  authv3.CheckResponse_DeniedResponse
	denied authv3.DeniedHttpResponse
	http   typev3.HttpStatus
}

func allowResponse(v *view, o outcome) *authv3.CheckResponse {
	p := &allowParts{}
	ok := &p.ok
	var md *structpb.Struct
	if d := o.decision; d != nil {
		ok.Headers = headerOptions(d.UpstreamHeaders, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
		ok.ResponseHeadersToAdd = headerOptions(merged(o.headers, d.ResponseHeaders), corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
		ok.HeadersToRemove = spoofedHeaders(v, d.UpstreamHeaders)
		md = metadata(d.DynamicMetadata)
	} else {
		ok.HeadersToRemove = spoofedHeaders(v, nil)
	}
	if o.upstreamToken != "" {
		var set map[string]string
		if o.decision != nil {
			set = o.decision.UpstreamHeaders
		}
		ok.Headers, ok.HeadersToRemove = withToken(ok.Headers, ok.HeadersToRemove, o.upstreamToken, set)
	}
	if o.connAll != nil {
		ok.Headers, ok.HeadersToRemove = withConnections(ok.Headers, ok.HeadersToRemove, o.connHeaders, o.connAll, v)
	}
	if o.nonce != "" {
		ok.ResponseHeadersToAdd = withNonce(ok.ResponseHeadersToAdd, o.nonce)
	}
	p.status.Code = int32(codes.OK)
	p.oneof.OkResponse = ok
	p.resp.Status, p.resp.HttpResponse = &p.status, &p.oneof
	p.resp.DynamicMetadata = withHandoff(md, o.input, o.connVersions)
	return &p.resp
}

// withNonce sets DPoP-Nonce among the response headers, replacing any the
// decision set.
func withNonce(hs []*corev3.HeaderValueOption, nonce string) []*corev3.HeaderValueOption {
	out := make([]*corev3.HeaderValueOption, 0, len(hs)+1)
	for _, h := range hs {
		if !strings.EqualFold(h.GetHeader().GetKey(), NonceHeader) {
			out = append(out, h)
		}
	}
	return append(out, &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: NonceHeader, Value: nonce},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	})
}

// spoofedHeaders lists client-sent headers in our reserved namespace that
// this response does not overwrite: they are removed so the upstream only
// ever sees values we set. A header we set is overwritten instead; setting
// and removing the same name would depend on Envoy's order of operations.
func spoofedHeaders(v *view, set map[string]string) []string {
	var out []string
	for k := range v.headers.all() {
		if _, ours := set[k]; strings.HasPrefix(k, ReservedPrefix) && !ours {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func denyResponse(o outcome) *authv3.CheckResponse {
	hdrs := map[string]string{ReasonHeader: o.reason}
	if o.challenge != "" {
		hdrs["www-authenticate"] = o.challenge
	}
	if o.allowHdr {
		hdrs["allow"] = "GET, POST, DELETE"
	}
	if o.nonce != "" {
		hdrs[NonceHeader] = o.nonce
	}
	for k, val := range o.headers {
		hdrs[k] = val
	}
	if o.decision != nil {
		for k, val := range o.decision.ResponseHeaders {
			if _, taken := hdrs[k]; !taken {
				hdrs[k] = val
			}
		}
	}
	var body string
	switch {
	case o.body != "":
		hdrs["content-type"] = "application/json"
		body = o.body
	case o.toolRes:
		hdrs["content-type"] = "application/json"
		body = toolResultBody(o)
	case o.rpcCode != 0:
		hdrs["content-type"] = "application/json"
		body = rpcErrorBody(o)
	}
	code := codes.PermissionDenied
	if o.status == 401 {
		code = codes.Unauthenticated
	}
	p := &denyParts{}
	p.status.Code, p.status.Message = int32(code), o.reason
	p.http.Code = typev3.StatusCode(o.status)
	p.denied.Status, p.denied.Body = &p.http, body
	p.denied.Headers = headerOptions(hdrs, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
	p.oneof.DeniedResponse = &p.denied
	p.resp.Status, p.resp.HttpResponse = &p.status, &p.oneof
	return &p.resp
}

// rpcErrorBody writes the JSON-RPC error with the id echoed byte-exact.
func rpcErrorBody(o outcome) string {
	msg := rpcMessages[o.rpcCode]
	if msg == "" {
		msg = "Request denied"
	}
	if o.decision != nil && o.decision.RPCError != nil && o.decision.RPCError.Message != "" {
		msg = o.decision.RPCError.Message
	}
	if o.rpcMessage != "" {
		msg = o.rpcMessage
	}
	m, _ := json.Marshal(msg)
	d, onlyReason := rpcErrorData(o)
	var b strings.Builder
	b.Grow(112 + len(o.id) + len(m) + len(d))
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	if len(o.id) > 0 {
		b.Write(o.id)
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"error":{"code":`)
	b.WriteString(strconv.Itoa(o.rpcCode))
	b.WriteString(`,"message":`)
	b.Write(m)
	b.WriteString(`,"data":`)
	if onlyReason {
		b.WriteString(`{"reason":`)
		b.Write(d)
		b.WriteByte('}')
	} else {
		b.Write(d)
	}
	b.WriteString(`}}`)
	return b.String()
}

// rpcErrorData is error.data: the reason and o.rpcData. With no rpcData
// (nearly every deny) it returns only the reason's JSON string and true:
// the caller writes {"reason":...} around it, the bytes json.Marshal gives
// that one-key map (the same string encoding, HTML escapes included)
// without building and sorting a map.
func rpcErrorData(o outcome) ([]byte, bool) {
	if len(o.rpcData) == 0 {
		r, _ := json.Marshal(o.reason)
		return r, true
	}
	data := map[string]any{"reason": o.reason}
	for k, v := range o.rpcData {
		data[k] = v
	}
	d, _ := json.Marshal(data)
	return d, false
}

// merged returns ours with theirs added where ours has no value.
func merged(ours, theirs map[string]string) map[string]string {
	if len(ours) == 0 {
		return theirs
	}
	out := make(map[string]string, len(ours)+len(theirs))
	for k, v := range theirs {
		out[k] = v
	}
	for k, v := range ours {
		out[k] = v
	}
	return out
}

// headerOptions turns a map into sorted HeaderValueOptions. The options
// and their headers are allocated as one array.
func headerOptions(h map[string]string, action corev3.HeaderValueOption_HeaderAppendAction) []*corev3.HeaderValueOption {
	if len(h) == 0 {
		return nil
	}
	var stack [16]string
	keys := stack[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Each option and its header share one element: two allocations in all.
	type pair struct {
		opt corev3.HeaderValueOption
		hv  corev3.HeaderValue
	}
	pairs := make([]pair, len(keys))
	out := make([]*corev3.HeaderValueOption, len(keys))
	for i, k := range keys {
		p := &pairs[i]
		p.hv.Key, p.hv.Value = k, h[k]
		p.opt.Header, p.opt.AppendAction = &p.hv, action
		out[i] = &p.opt
	}
	return out
}

// metadata converts the decision's dynamic_metadata; values that do not fit
// a protobuf Struct were rejected when the decision was validated. It is
// structpb.NewStruct with json.Number values turned into float64 (as
// Float64 parses them), built in one pass.
func metadata(m map[string]any) *structpb.Struct {
	if len(m) == 0 {
		return nil
	}
	s, err := structOf(m)
	if err != nil {
		return nil
	}
	return s
}

// structOf is structpb.NewStruct reading json.Number as float64. A first
// pass counts the values so that the Values and their string and number
// kinds come from three slices instead of two allocations per value (the
// response is built per Check; the Values are owned by that response only).
func structOf(m map[string]any) (*structpb.Struct, error) {
	var c pbCount
	c.object(m)
	sl := pbSlab{
		vals: make([]structpb.Value, c.vals),
		strs: make([]structpb.Value_StringValue, c.strs),
		nums: make([]structpb.Value_NumberValue, c.nums),
	}
	return sl.structOf(m)
}

// pbCount counts what a pbSlab hands out for a value tree.
type pbCount struct{ vals, strs, nums int }

func (c *pbCount) object(m map[string]any) {
	for _, e := range m {
		c.value(e)
	}
}

func (c *pbCount) value(v any) {
	switch t := v.(type) {
	case string:
		c.vals, c.strs = c.vals+1, c.strs+1
	case json.Number:
		c.vals, c.nums = c.vals+1, c.nums+1
	case map[string]any:
		c.vals++
		c.object(t)
	case []any:
		c.vals++
		for _, e := range t {
			c.value(e)
		}
	}
}

// pbSlab hands out Values and kind wrappers sized by a pbCount; other
// kinds (bool, null, Go types the decoder never yields) take structpb.NewValue.
type pbSlab struct {
	vals []structpb.Value
	strs []structpb.Value_StringValue
	nums []structpb.Value_NumberValue
}

func (sl *pbSlab) structOf(m map[string]any) (*structpb.Struct, error) {
	out := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for k, e := range m {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("invalid UTF-8 in string: %q", k)
		}
		v, err := sl.value(e)
		if err != nil {
			return nil, err
		}
		out.Fields[k] = v
	}
	return out, nil
}

// next is the next Value of the slab; the caller sets its Kind.
func (sl *pbSlab) next() *structpb.Value {
	v := &sl.vals[0]
	sl.vals = sl.vals[1:]
	return v
}

func (sl *pbSlab) value(v any) (*structpb.Value, error) {
	switch t := v.(type) {
	case string:
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("invalid UTF-8 in string: %q", t)
		}
		s := &sl.strs[0]
		sl.strs, s.StringValue = sl.strs[1:], t
		val := sl.next()
		val.Kind = s
		return val, nil
	case json.Number:
		f, _ := t.Float64() // out of range: ±Inf, as before
		n := &sl.nums[0]
		sl.nums, n.NumberValue = sl.nums[1:], f
		val := sl.next()
		val.Kind = n
		return val, nil
	case map[string]any:
		val := sl.next()
		s, err := sl.structOf(t)
		if err != nil {
			return nil, err
		}
		val.Kind = &structpb.Value_StructValue{StructValue: s}
		return val, nil
	case []any:
		return sl.list(t)
	}
	return structpb.NewValue(v)
}

func (sl *pbSlab) list(t []any) (*structpb.Value, error) {
	val := sl.next()
	l := &structpb.ListValue{Values: make([]*structpb.Value, len(t))}
	for i, e := range t {
		ev, err := sl.value(e)
		if err != nil {
			return nil, err
		}
		l.Values[i] = ev
	}
	val.Kind = &structpb.Value_ListValue{ListValue: l}
	return val, nil
}

// validStatus reports whether Envoy's StatusCode enum defines code.
func validStatus(code int) bool {
	_, ok := typev3.StatusCode_name[int32(code)]
	return ok && code >= 200
}

// withHandoff adds the ext_proc handoff (policy.HandoffKey) to md: the
// response processor learns from it which request a response answers and
// for whom, without deciding the request again, and which credentials it
// carried upstream (so it can mark them stale when the upstream refuses them).
func withHandoff(md *structpb.Struct, in *policy.Input, injected map[string]string) *structpb.Struct {
	if in == nil {
		return md
	}
	h := policy.HandoffOf(in)
	if len(injected) > 0 {
		h.Injected = injected
	}
	enc, err := h.Encode()
	if err != nil {
		return md // the processor refuses a response without a handoff
	}
	hv := &handoffValue{}
	hv.str.StringValue = enc
	hv.value.Kind = &hv.str
	if md == nil {
		md = &hv.md
		md.Fields = make(map[string]*structpb.Value, 1)
	}
	md.Fields[policy.HandoffKey] = &hv.value
	return md
}

// handoffValue is the handoff's metadata (when the policy set none) and
// its string value, allocated together.
type handoffValue struct {
	md    structpb.Struct
	value structpb.Value
	str   structpb.Value_StringValue
}
