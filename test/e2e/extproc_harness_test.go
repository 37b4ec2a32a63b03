package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// The ext_proc side of the gate, driven as Envoy drives it: one gRPC
// stream per HTTP stream; request headers (with the ext_authz dynamic
// metadata forwarded in metadata_context), response headers, then the body
// in the mode the processor chose (one message for BUFFERED, the chunks as
// they arrived for STREAMED), one answer awaited for each message.

// extAuthzNamespace is where Envoy files the dynamic metadata of its
// ext_authz filter, forwarded by metadata_options.forwarding_namespaces.
const extAuthzNamespace = "envoy.filters.http.ext_authz"

// allowedCheck sends body as an MCP POST for roles and returns the allow's
// dynamic metadata (the test fails on a deny).
func allowedCheck(t *testing.T, client authv3.AuthorizationClient, roles []string, body string) *structpb.Struct {
	t.Helper()
	tok := mintAccess(t, map[string]any{"sub": strings.Join(roles, "+"), "roles": roles})
	resp := mustCheck(t, client, mcpPost{authorization: "Bearer " + tok, body: body}.request())
	if decision(resp) != "allow" {
		d, _ := denyOf(resp)
		t.Fatalf("Check(%s) as %v: deny %q; want allow", body, roles, d.reason)
	}
	if resp.GetDynamicMetadata() == nil {
		t.Fatalf("Check(%s): allow without dynamic_metadata; the ext_proc handoff needs it", body)
	}
	return resp.GetDynamicMetadata()
}

// upstreamResponse is what the upstream MCP server answers.
type upstreamResponse struct {
	contentType string
	headers     map[string]string // more response headers
	chunks      [][]byte          // the body as the network cut it
}

// procResult is what the client receives after ext_proc.
type procResult struct {
	mode      extprocfilterv3.ProcessingMode_BodySendMode
	immediate *extprocv3.ImmediateResponse
	headers   map[string]string // set by the body answer (BUFFERED)
	removed   []string          // removed from the response headers
	body      []byte
}

// process runs one HTTP stream through the processor on conn.
func process(t *testing.T, conn *grpc.ClientConn, md *structpb.Struct, up upstreamResponse) procResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := extprocv3.NewExternalProcessorClient(conn).Process(ctx)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	defer func() { _ = stream.CloseSend() }()
	var mdc *corev3.Metadata
	if md != nil {
		mdc = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{extAuthzNamespace: md}}
	}
	roundTrip := func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		t.Helper()
		req.MetadataContext = mdc
		if err := stream.Send(req); err != nil {
			t.Fatalf("Send: %v", err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		return resp
	}
	var res procResult
	rh := roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(map[string]string{
			":method": "POST", ":path": "/mcp", ":authority": "mcp.example.test", ":scheme": "https",
			"content-type": "application/json", "accept-encoding": "gzip",
		})}}})
	if rh.GetRequestHeaders() == nil {
		t.Fatalf("request headers answered with %T; want a HeadersResponse", rh.GetResponse())
	}
	var whole []byte
	for _, c := range up.chunks {
		whole = append(whole, c...)
	}
	hdrs := map[string]string{":status": "200", "content-type": up.contentType}
	if up.contentType == "application/json" {
		hdrs["content-length"] = strconv.Itoa(len(whole))
	}
	for k, v := range up.headers {
		hdrs[k] = v
	}
	resp := roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap(hdrs)}}})
	if im := resp.GetImmediateResponse(); im != nil {
		res.immediate = im
		return res
	}
	res.removed = resp.GetResponseHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders()
	res.mode = resp.GetModeOverride().GetResponseBodyMode()
	switch res.mode {
	case extprocfilterv3.ProcessingMode_BUFFERED:
		br := roundTrip(bodyRequest(whole, true))
		res.body, res.headers = applyBody(t, br, whole)
	case extprocfilterv3.ProcessingMode_STREAMED:
		for i, c := range up.chunks {
			br := roundTrip(bodyRequest(c, i == len(up.chunks)-1))
			out, _ := applyBody(t, br, c)
			res.body = append(res.body, out...)
		}
	default:
		res.body = whole // NONE: Envoy passes the body untouched
	}
	return res
}

func bodyRequest(b []byte, end bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: b, EndOfStream: end}}}
}

// applyBody applies a body answer to the chunk Envoy sent, as Envoy does.
func applyBody(t *testing.T, resp *extprocv3.ProcessingResponse, chunk []byte) ([]byte, map[string]string) {
	t.Helper()
	br := resp.GetResponseBody()
	if br == nil {
		t.Fatalf("body answered with %T; want a BodyResponse", resp.GetResponse())
	}
	set := map[string]string{}
	for _, h := range br.GetResponse().GetHeaderMutation().GetSetHeaders() {
		set[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue()) + h.GetHeader().GetValue()
	}
	switch m := br.GetResponse().GetBodyMutation().GetMutation().(type) {
	case *extprocv3.BodyMutation_Body:
		return m.Body, set
	case *extprocv3.BodyMutation_ClearBody:
		return nil, set
	}
	return chunk, set
}

func headerMap(h map[string]string) *corev3.HeaderMap {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hm := &corev3.HeaderMap{}
	for _, k := range keys {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(h[k])})
	}
	return hm
}

// registryTools returns the approved manifests of policies/mcp/servers/issues,
// byte for byte as the registry holds them: what the fixture server lists.
func registryTools(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "policies", "mcp", "servers", "issues", "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sd struct {
		Tools map[string]struct {
			Manifest json.RawMessage `json:"manifest"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(b, &sd); err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for name, tool := range sd.Tools {
		out[name] = tool.Manifest
	}
	return out
}

// toolsListResult is a tools/list response listing defs in name order.
func toolsListResult(id string, defs map[string]json.RawMessage) []byte {
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":` + id + `,"result":{"tools":[`)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		var c bytes.Buffer
		if err := json.Compact(&c, defs[n]); err != nil {
			panic(err)
		}
		b.Write(c.Bytes())
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

// sseEvents parses a processed SSE body into its events (all of it must
// be complete events).
func sseEvents(t *testing.T, body []byte) []mcp.SSEEvent {
	t.Helper()
	r := mcp.NewSSEReader(len(body) + 1)
	evs, err := r.Feed(body)
	if err != nil || len(r.Pending()) != 0 {
		t.Fatalf("processed SSE body: %v, %d bytes of an unterminated event", err, len(r.Pending()))
	}
	return evs
}

// listedNames returns the names in a list result's member, sorted, or
// the error's reason.
func listedNames(t *testing.T, msg []byte, member string) ([]string, string) {
	t.Helper()
	var r struct {
		Result map[string]json.RawMessage `json:"result"`
		Error  *struct {
			Data struct {
				Reason string `json:"reason"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil {
		t.Fatalf("processed message %q: %v", msg, err)
	}
	if r.Error != nil {
		return nil, r.Error.Data.Reason
	}
	var items []map[string]any
	if err := json.Unmarshal(r.Result[member], &items); err != nil {
		t.Fatalf("result.%s: %v", member, err)
	}
	var names []string
	for _, it := range items {
		for _, k := range []string{"name", "uri", "uriTemplate"} {
			if s, ok := it[k].(string); ok {
				names = append(names, s)
				break
			}
		}
	}
	sort.Strings(names)
	return names, ""
}

// cutAt cuts b at the given offsets (sorted, deduplicated), then every
// step bytes in between.
func cutAt(b []byte, offsets []int, step int) [][]byte {
	set := map[int]bool{}
	for _, o := range offsets {
		if o > 0 && o < len(b) {
			set[o] = true
		}
	}
	for o := step; o < len(b); o += step {
		set[o] = true
	}
	cuts := make([]int, 0, len(set))
	for o := range set {
		cuts = append(cuts, o)
	}
	sort.Ints(cuts)
	var out [][]byte
	prev := 0
	for _, c := range append(cuts, len(b)) {
		out = append(out, b[prev:c])
		prev = c
	}
	return out
}
