package extproc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// fakeMarker records stale marks as "iss sub provider version".
type fakeMarker struct {
	mu    sync.Mutex
	marks []string
	err   error
}

func (f *fakeMarker) MarkStale(_ context.Context, iss, sub, provider, version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks = append(f.marks, strings.Join([]string{iss, sub, provider, version}, " "))
	return f.err
}

// injectedMD is the handoff of alice's tools/call that carried injected.
func injectedMD(t *testing.T, injected map[string]string) *corev3.Metadata {
	t.Helper()
	in := &policy.Input{
		Principal: policy.Principal{Issuer: "https://idp", Subject: "alice"},
		MCP:       policy.MCP{Revision: "2025-11-25", Kind: "request", Method: "tools/call", ID: json.RawMessage("7")},
		Resource:  policy.Resource{ID: "https://mcp.example.test/mcp", Server: "issues"},
	}
	h := policy.HandoffOf(in)
	h.Injected = injected
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		policy.HandoffNamespace: {Fields: map[string]*structpb.Value{policy.HandoffKey: structpb.NewStringValue(enc)}},
	}}
}

// TestStaleCredentials: the upstream's refusal of injected credentials (the
// stale header naming providers, or a bare 401) marks exactly the injected
// ones stale with their versions; the stale header never reaches the client.
func TestStaleCredentials(t *testing.T) {
	both := map[string]string{"mail": "v-mail", "chat": "v-chat"}
	tests := []struct {
		name     string
		injected map[string]string // nil: no handoff
		h        *extprocv3.HttpHeaders
		marks    []string
		removed  bool
		mode     extprocfilterv3.ProcessingMode_BodySendMode
	}{
		{"header names one", both, headers(":status", "200", "content-type", "application/json", "x-mcp-connection-stale", "mail"),
			[]string{"mail v-mail"}, true, extprocfilterv3.ProcessingMode_BUFFERED},
		{"header list, repeated, mixed case name", both, headers(":status", "200", "X-MCP-Connection-Stale", " chat , mail", "x-mcp-connection-stale", "mail"),
			[]string{"chat v-chat", "mail v-mail"}, true, extprocfilterv3.ProcessingMode_NONE},
		{"header names a provider not injected", map[string]string{"mail": "v-mail"}, headers(":status", "200", "x-mcp-connection-stale", "chat"),
			nil, true, extprocfilterv3.ProcessingMode_NONE},
		{"bare 401 marks every injected", both, headers(":status", "401", "content-type", "text/plain"),
			[]string{"chat v-chat", "mail v-mail"}, false, extprocfilterv3.ProcessingMode_NONE},
		{"401 with a challenge is about the MCP hop", both, headers(":status", "401", "www-authenticate", `Bearer resource_metadata="x"`),
			nil, false, extprocfilterv3.ProcessingMode_NONE},
		{"401 without injected credentials", map[string]string{}, headers(":status", "401"), nil, false, extprocfilterv3.ProcessingMode_NONE},
		{"403 is not a refusal of the credential", both, headers(":status", "403"), nil, false, extprocfilterv3.ProcessingMode_NONE},
		{"header without handoff is still removed", nil, headers(":status", "200", "content-type", "text/plain", "x-mcp-connection-stale", "mail"),
			nil, true, extprocfilterv3.ProcessingMode_NONE},
		{"sse keeps its removals", both, headers(":status", "200", "content-type", "text/event-stream", "x-mcp-connection-stale", "mail"),
			[]string{"mail v-mail"}, true, extprocfilterv3.ProcessingMode_STREAMED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &fakeMarker{}
			s := New(Options{MaxBodyBytes: 1 << 16, Connections: m}, &fakeJudge{reg: testRegistry(t, searchDef)}, nil)
			req := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: tt.h}}
			if tt.injected != nil {
				req.MetadataContext = injectedMD(t, tt.injected)
			}
			resp := s.handle(context.Background(), &exchange{}, req)
			var want []string
			for _, mk := range tt.marks {
				want = append(want, "https://idp alice "+mk)
			}
			sort.Strings(m.marks)
			if !slices.Equal(m.marks, want) {
				t.Errorf("marks = %q; want %q", m.marks, want)
			}
			removed := resp.GetResponseHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders()
			if slices.Contains(removed, StaleHeader) != tt.removed {
				t.Errorf("removed headers %q; want %s removed: %v", removed, StaleHeader, tt.removed)
			}
			if got := resp.GetModeOverride().GetResponseBodyMode(); got != tt.mode {
				t.Errorf("body mode %v; want %v", got, tt.mode)
			}
		})
	}
}

// TestStaleMarkFailurePasses: a store failure while marking is logged; the
// response passes as it would have (it is the upstream's answer).
func TestStaleMarkFailurePasses(t *testing.T) {
	m := &fakeMarker{err: errors.New("store down")}
	s := New(Options{MaxBodyBytes: 1 << 16, Connections: m}, &fakeJudge{reg: testRegistry(t, searchDef)}, nil)
	req := &extprocv3.ProcessingRequest{MetadataContext: injectedMD(t, map[string]string{"mail": "v"}),
		Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: headers(":status", "401")}}
	resp := s.handle(context.Background(), &exchange{}, req)
	if resp.GetImmediateResponse() != nil || resp.GetResponseHeaders() == nil || len(m.marks) != 1 {
		t.Fatalf("answer %v, marks %q; want the headers passed after one attempt", resp, m.marks)
	}
}

// TestStaleWithoutMarker: without the connect feature the header is still
// removed and nothing panics.
func TestStaleWithoutMarker(t *testing.T) {
	s := newTestServer(t, &fakeJudge{})
	req := &extprocv3.ProcessingRequest{MetadataContext: injectedMD(t, map[string]string{"mail": "v"}),
		Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: headers(":status", "401", "x-mcp-connection-stale", "mail")}}
	resp := s.handle(context.Background(), &exchange{}, req)
	if !slices.Contains(resp.GetResponseHeaders().GetResponse().GetHeaderMutation().GetRemoveHeaders(), StaleHeader) {
		t.Fatalf("answer %v; want %s removed", resp, StaleHeader)
	}
}
