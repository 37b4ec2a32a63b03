package envoyshim

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	procv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
)

// fakeAuthz is an Authorization server on loopback gRPC that records every
// CheckRequest and answers with respond.
type fakeAuthz struct {
	authv3.UnimplementedAuthorizationServer
	mu      sync.Mutex
	seen    []*authv3.CheckRequest
	respond func(*authv3.CheckRequest) *authv3.CheckResponse
}

func (f *fakeAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	f.mu.Lock()
	f.seen = append(f.seen, req)
	f.mu.Unlock()
	return f.respond(req), nil
}

// last is the last CheckRequest received.
func (f *fakeAuthz) last(t *testing.T) *authv3.CheckRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		t.Fatal("no CheckRequest received")
	}
	return f.seen[len(f.seen)-1]
}

// serveGRPC registers a service with reg on a loopback gRPC server and
// returns its address; the server stops at the end of t.
func serveGRPC(t *testing.T, reg func(*grpc.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	reg(s)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// startAuthz runs a fakeAuthz answering with respond.
func startAuthz(t *testing.T, respond func(*authv3.CheckRequest) *authv3.CheckResponse) (*fakeAuthz, authv3.AuthorizationClient) {
	t.Helper()
	f := &fakeAuthz{respond: respond}
	addr := serveGRPC(t, func(s *grpc.Server) { authv3.RegisterAuthorizationServer(s, f) })
	return f, AuthzClient(Dial(t, addr))
}

// upstreamSeen is what the upstream received.
type upstreamSeen struct {
	host   string
	uri    string
	header http.Header
	body   string
}

// startUpstream runs an HTTP upstream that records each request and
// answers with handler (nil: 200 "ok").
func startUpstream(t *testing.T, handler http.HandlerFunc) (*httptest.Server, chan upstreamSeen) {
	t.Helper()
	seen := make(chan upstreamSeen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- upstreamSeen{host: r.Host, uri: r.RequestURI, header: r.Header.Clone(), body: string(b)}
		if handler != nil {
			handler(w, r)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// fakeProc is an ext_proc server whose handle answers each message.
type fakeProc struct {
	procv3.UnimplementedExternalProcessorServer
	mu     sync.Mutex
	seen   []*procv3.ProcessingRequest
	handle func(*procv3.ProcessingRequest) *procv3.ProcessingResponse
}

func (f *fakeProc) Process(s procv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := s.Recv()
		if err != nil {
			return nil
		}
		f.mu.Lock()
		f.seen = append(f.seen, req)
		f.mu.Unlock()
		if err := s.Send(f.handle(req)); err != nil {
			return err
		}
	}
}

// messages is every ProcessingRequest received so far.
func (f *fakeProc) messages() []*procv3.ProcessingRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*procv3.ProcessingRequest(nil), f.seen...)
}

// allow is an OK CheckResponse with an empty ok_response.
func allow(*authv3.CheckRequest) *authv3.CheckResponse {
	return &authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}}
}
