package envoyshim

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	procv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
)

// upperProc upper-cases every body it sees and tags response headers.
func upperProc(req *procv3.ProcessingRequest) *procv3.ProcessingResponse {
	switch {
	case req.GetRequestHeaders() != nil:
		return &procv3.ProcessingResponse{Response: &procv3.ProcessingResponse_RequestHeaders{RequestHeaders: &procv3.HeadersResponse{
			Response: &procv3.CommonResponse{HeaderMutation: &procv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
				hvo("x-proc-req", "1", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)}}},
		}}}
	case req.GetResponseHeaders() != nil:
		return &procv3.ProcessingResponse{Response: &procv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &procv3.HeadersResponse{
			Response: &procv3.CommonResponse{HeaderMutation: &procv3.HeaderMutation{
				SetHeaders:    []*corev3.HeaderValueOption{hvo("x-proc-resp", "1", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)},
				RemoveHeaders: []string{"x-upstream-secret"},
			}},
		}}}
	default:
		body := bytes.ToUpper(req.GetResponseBody().GetBody())
		return &procv3.ProcessingResponse{Response: &procv3.ProcessingResponse_ResponseBody{ResponseBody: &procv3.BodyResponse{
			Response: &procv3.CommonResponse{BodyMutation: &procv3.BodyMutation{Mutation: &procv3.BodyMutation_Body{Body: body}}},
		}}}
	}
}

// startProc runs a fakeProc with handle and returns it with a client.
func startProc(t *testing.T, handle func(*procv3.ProcessingRequest) *procv3.ProcessingResponse) (*fakeProc, procv3.ExternalProcessorClient) {
	t.Helper()
	f := &fakeProc{handle: handle}
	addr := serveGRPC(t, func(s *grpc.Server) { procv3.RegisterExternalProcessorServer(s, f) })
	return f, ExtProcClient(Dial(t, addr))
}

// sseUpstream writes three SSE events, flushing each.
func sseUpstream(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("content-type", "text/event-stream")
	w.Header().Set("x-upstream-secret", "s")
	for _, ev := range []string{"one", "two", "three"} {
		_, _ = w.Write([]byte("event: message\ndata: " + ev + "\n\n"))
		w.(http.Flusher).Flush()
	}
}

// TestExtProcResponseModes runs the response through the processor in
// STREAMED and BUFFERED modes: headers mutated, every event processed.
func TestExtProcResponseModes(t *testing.T) {
	for _, mode := range []filterv3.ProcessingMode_BodySendMode{filterv3.ProcessingMode_STREAMED, filterv3.ProcessingMode_BUFFERED} {
		t.Run(mode.String(), func(t *testing.T) {
			dyn, _ := structpb.NewStruct(map[string]any{"reason": "allowed"})
			_, client := startAuthz(t, func(*authv3.CheckRequest) *authv3.CheckResponse {
				r := allow(nil)
				r.DynamicMetadata = dyn
				return r
			})
			proc, pclient := startProc(t, upperProc)
			up, seen := startUpstream(t, sseUpstream)
			g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), Timeout: 10 * time.Second,
				ExtProc: &ExtProcConfig{Client: pclient, MessageTimeout: 10 * time.Second, ForwardNamespaces: []string{extAuthzNamespace},
					Mode: &filterv3.ProcessingMode{ResponseBodyMode: mode}}})
			resp, body := do(t, g, "GET", "/mcp", "", map[string][]string{"Accept": {"text/event-stream"}})
			want := "EVENT: MESSAGE\nDATA: ONE\n\nEVENT: MESSAGE\nDATA: TWO\n\nEVENT: MESSAGE\nDATA: THREE\n\n"
			if body != want {
				t.Errorf("body %q; want %q", body, want)
			}
			if resp.Header.Get("x-proc-resp") != "1" || resp.Header.Get("x-upstream-secret") != "" {
				t.Errorf("response headers %v; want x-proc-resp set and x-upstream-secret removed", resp.Header)
			}
			if u := <-seen; u.header.Get("x-proc-req") != "1" {
				t.Errorf("upstream request lacks the processor's x-proc-req")
			}
			msgs := proc.messages()
			if len(msgs) < 3 || msgs[0].GetProtocolConfig().GetResponseBodyMode() != mode || msgs[1].GetProtocolConfig() != nil {
				t.Fatalf("%d messages, first protocol_config %v; want protocol_config in the first only", len(msgs), msgs[0].GetProtocolConfig())
			}
			if got := msgs[1].GetMetadataContext().GetFilterMetadata()[extAuthzNamespace].GetFields()["reason"].GetStringValue(); got != "allowed" {
				t.Errorf("forwarded ext_authz metadata reason = %q; want allowed", got)
			}
			if st := string(msgs[1].GetResponseHeaders().GetHeaders().GetHeaders()[0].GetRawValue()); st != "200" {
				t.Errorf("first response header = %q; want :status 200", st)
			}
		})
	}
}

// TestExtProcStreamsEventsInTime checks that a STREAMED response reaches
// the client event by event while the upstream is still writing.
func TestExtProcStreamsEventsInTime(t *testing.T) {
	_, client := startAuthz(t, allow)
	_, pclient := startProc(t, upperProc)
	release := make(chan struct{})
	up, _ := startUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/event-stream")
		_, _ = w.Write([]byte("data: first\n\n"))
		w.(http.Flusher).Flush()
		<-release
		_, _ = w.Write([]byte("data: second\n\n"))
	})
	g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), Timeout: 10 * time.Second,
		ExtProc: &ExtProcConfig{Client: pclient, MessageTimeout: 10 * time.Second,
			Mode: &filterv3.ProcessingMode{ResponseBodyMode: filterv3.ProcessingMode_STREAMED}}})
	resp, err := http.Get(g.URL() + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || line != "DATA: FIRST\n" {
		t.Fatalf("first event line %q, %v; want it before the upstream finishes", line, err)
	}
	close(release)
	rest := new(strings.Builder)
	_, _ = rd.WriteTo(rest)
	if rest.String() != "\nDATA: SECOND\n\n" {
		t.Errorf("rest %q; want the second event", rest.String())
	}
}

// TestExtProcImmediateResponse checks an immediate response to the
// response headers replaces the upstream's response.
func TestExtProcImmediateResponse(t *testing.T) {
	_, client := startAuthz(t, allow)
	_, pclient := startProc(t, func(req *procv3.ProcessingRequest) *procv3.ProcessingResponse {
		if req.GetResponseHeaders() == nil {
			return upperProc(req)
		}
		return &procv3.ProcessingResponse{Response: &procv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &procv3.ImmediateResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}, Body: []byte("blocked"),
		}}}
	})
	up, _ := startUpstream(t, sseUpstream)
	g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), Timeout: 10 * time.Second,
		ExtProc: &ExtProcConfig{Client: pclient, MessageTimeout: 10 * time.Second}})
	resp, body := do(t, g, "GET", "/mcp", "", nil)
	if resp.StatusCode != 403 || body != "blocked" || resp.Header.Get("x-upstream-secret") != "" {
		t.Errorf("got %d %q %v; want 403 blocked without upstream headers", resp.StatusCode, body, resp.Header)
	}
}

// TestExtProcFailureIsStatusOnError checks a processor that cannot be
// reached fails the request closed with status_on_error.
func TestExtProcFailureIsStatusOnError(t *testing.T) {
	_, client := startAuthz(t, allow)
	up, seen := startUpstream(t, nil)
	for _, status := range []int{0, 503} {
		g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), Timeout: 10 * time.Second,
			ExtProc: &ExtProcConfig{Client: ExtProcClient(Dial(t, "127.0.0.1:1")), MessageTimeout: 5 * time.Second, StatusOnError: status}})
		resp, _ := do(t, g, "GET", "/mcp", "", nil)
		want := map[int]int{0: 500, 503: 503}[status]
		if resp.StatusCode != want {
			t.Errorf("status_on_error %d: got %d; want %d", status, resp.StatusCode, want)
		}
	}
	select {
	case r := <-seen:
		t.Errorf("upstream saw %s with the processor down", r.uri)
	default:
	}
}
