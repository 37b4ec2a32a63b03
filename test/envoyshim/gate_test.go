package envoyshim

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// hvo builds a HeaderValueOption.
func hvo(k, v string, a corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, AppendAction: a}
}

// do sends a request through g and returns the response and its body.
func do(t *testing.T, g *Gate, method, path, body string, hdr map[string][]string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOKMutationsInEnvoyOrder checks that ok_response headers apply by
// append_action, headers_to_remove apply after them, and
// response_headers_to_add reach the client.
func TestOKMutationsInEnvoyOrder(t *testing.T) {
	_, client := startAuthz(t, func(*authv3.CheckRequest) *authv3.CheckResponse {
		return &authv3.CheckResponse{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{
				hvo("x-set", "ours", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
				hvo("x-add", "second", corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD),
				hvo("x-absent", "ignored", corev3.HeaderValueOption_ADD_IF_ABSENT),
				hvo("x-only-if", "new", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS),
				hvo("x-never", "new", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS),
				{Header: &corev3.HeaderValue{Key: "x-legacy", Value: "b"}, Append: wrapperspb.Bool(true)},
				hvo("x-removed", "set-then-removed", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
			},
			HeadersToRemove:      []string{"x-drop", "x-removed", ":path", "host"},
			ResponseHeadersToAdd: []*corev3.HeaderValueOption{hvo("x-resp", "r1", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)},
		}}}
	})
	up, seen := startUpstream(t, nil)
	g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), Timeout: 10 * time.Second})
	resp, _ := do(t, g, "GET", "/mcp", "", map[string][]string{
		"X-Set": {"client"}, "X-Add": {"first"}, "X-Absent": {"client"}, "X-Only-If": {"old"},
		"X-Legacy": {"a"}, "X-Drop": {"x"},
	})
	got := <-seen
	want := map[string][]string{
		"X-Set": {"ours"}, "X-Add": {"first", "second"}, "X-Absent": {"client"}, "X-Only-If": {"new"},
		"X-Never": nil, "X-Legacy": {"a,b"}, "X-Drop": nil, "X-Removed": nil,
	}
	for k, w := range want {
		if g := got.header.Values(k); strings.Join(g, "|") != strings.Join(w, "|") {
			t.Errorf("upstream %s = %q; want %q", k, g, w)
		}
	}
	if got.uri != "/mcp" || got.header.Get("x-forwarded-proto") != "http" || got.header.Get("x-request-id") == "" {
		t.Errorf("upstream uri %q xfp %q x-request-id %q; want /mcp, http and an id", got.uri, got.header.Get("x-forwarded-proto"), got.header.Get("x-request-id"))
	}
	if resp.Header.Get("x-resp") != "r1" {
		t.Errorf("client x-resp = %q; want r1", resp.Header.Get("x-resp"))
	}
}

// TestDenyIsALocalReply checks a denied response: our status, headers and
// body, and nothing reaches the upstream.
func TestDenyIsALocalReply(t *testing.T) {
	cases := []struct {
		name       string
		resp       *authv3.CheckResponse
		wantStatus int
		wantBody   string
	}{
		{"denied response", &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Headers: []*corev3.HeaderValueOption{hvo("content-type", "application/json", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD), hvo("www-authenticate", "Bearer", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)},
				Body:    `{"error":"x"}`,
			}},
		}, 401, `{"error":"x"}`},
		{"status only: 403", &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)}}, 403, ""},
		{"error_response is an error: status_on_error", &authv3.CheckResponse{
			Status:       &rpcstatus.Status{Code: int32(codes.Unavailable)},
			HttpResponse: &authv3.CheckResponse_ErrorResponse{ErrorResponse: &authv3.DeniedHttpResponse{}},
		}, 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, client := startAuthz(t, func(*authv3.CheckRequest) *authv3.CheckResponse { return tc.resp })
			up, seen := startUpstream(t, nil)
			g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), Timeout: 10 * time.Second})
			resp, body := do(t, g, "POST", "/mcp", `{}`, nil)
			if resp.StatusCode != tc.wantStatus || body != tc.wantBody {
				t.Errorf("got %d %q; want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantBody != "" && resp.Header.Get("content-type") != "application/json" {
				t.Errorf("content-type = %q; want ours, application/json", resp.Header.Get("content-type"))
			}
			select {
			case r := <-seen:
				t.Errorf("upstream saw %s after a deny", r.uri)
			default:
			}
		})
	}
}

// TestBodyBuffering checks max_request_bytes: 413 without partial
// messages, a partial body flagged true with them, the whole body upstream.
func TestBodyBuffering(t *testing.T) {
	long := strings.Repeat("a", 100)
	cases := []struct {
		name        string
		body        *BodySettings
		wantStatus  int
		wantCheck   string
		wantPartial string
	}{
		{"fits", &BodySettings{MaxRequestBytes: 100}, 200, long, "false"},
		{"too large", &BodySettings{MaxRequestBytes: 99}, 413, "", ""},
		{"partial allowed", &BodySettings{MaxRequestBytes: 10, AllowPartialMessage: true, PackAsBytes: true}, 200, long[:10], "true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			authz, client := startAuthz(t, allow)
			up, seen := startUpstream(t, nil)
			g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), Body: tc.body, Timeout: 10 * time.Second})
			resp, _ := do(t, g, "POST", "/mcp", long, map[string][]string{partialBodyHeader: {"false"}})
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d; want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus != 200 {
				return
			}
			h := authz.last(t).GetAttributes().GetRequest().GetHttp()
			gotBody := h.GetBody() + string(h.GetRawBody())
			if gotBody != tc.wantCheck || h.GetHeaders()[partialBodyHeader] != tc.wantPartial {
				t.Errorf("check body %q partial %q; want %q %q", gotBody, h.GetHeaders()[partialBodyHeader], tc.wantCheck, tc.wantPartial)
			}
			if tc.body.PackAsBytes != (h.GetRawBody() != nil) {
				t.Errorf("raw_body set = %v; want %v", h.GetRawBody() != nil, tc.body.PackAsBytes)
			}
			if u := <-seen; u.body != long {
				t.Errorf("upstream body %d bytes; want the whole %d", len(u.body), len(long))
			}
		})
	}
}

// TestEncodeRawHeaders checks header_map: each repeat its own raw_value
// entry; without it, repeats joined with ",".
func TestEncodeRawHeaders(t *testing.T) {
	for _, raw := range []bool{true, false} {
		authz, client := startAuthz(t, allow)
		up, _ := startUpstream(t, nil)
		g := Start(t, Config{Authz: client, Upstream: MustURL(t, up.URL), EncodeRawHeaders: raw, Body: &BodySettings{}, Timeout: 10 * time.Second})
		do(t, g, "POST", "/mcp", "{}", map[string][]string{"Authorization": {"Bearer a", "Bearer b"}})
		h := authz.last(t).GetAttributes().GetRequest().GetHttp()
		var got []string
		if raw {
			if len(h.GetHeaders()) != 0 {
				t.Errorf("headers map set with encode_raw_headers: %v", h.GetHeaders())
			}
			for _, e := range h.GetHeaderMap().GetHeaders() {
				if e.GetKey() == "authorization" {
					got = append(got, string(e.GetRawValue()))
				}
				if e.GetValue() != "" {
					t.Errorf("header_map %s uses value, not raw_value", e.GetKey())
				}
			}
		} else {
			got = []string{h.GetHeaders()["authorization"]}
		}
		want := map[bool]string{true: "Bearer a|Bearer b", false: "Bearer a,Bearer b"}[raw]
		if strings.Join(got, "|") != want {
			t.Errorf("encode_raw_headers=%v: authorization %q; want %q", raw, got, want)
		}
	}
}

// TestAuthzFailure checks status_on_error and failure_mode_allow.
func TestAuthzFailure(t *testing.T) {
	conn := Dial(t, "127.0.0.1:1") // nothing listens: every Check fails
	for _, allowOnError := range []bool{false, true} {
		up, seen := startUpstream(t, nil)
		g := Start(t, Config{Authz: AuthzClient(conn), Upstream: MustURL(t, up.URL), FailureModeAllow: allowOnError, Timeout: 2 * time.Second})
		resp, _ := do(t, g, "GET", "/mcp", "", nil)
		want := map[bool]int{false: 403, true: 200}[allowOnError]
		if resp.StatusCode != want {
			t.Errorf("failure_mode_allow=%v: status %d; want %d", allowOnError, resp.StatusCode, want)
		}
		if allowOnError {
			if u := <-seen; u.header.Get("x-envoy-auth-failure-mode-allowed") != "true" {
				t.Errorf("upstream lacks x-envoy-auth-failure-mode-allowed")
			}
		}
	}
}
