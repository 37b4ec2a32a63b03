package identity

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMetadataHandler(t *testing.T) {
	h := MetadataHandler([]ResourceMetadata{
		{Resource: resourceA, AuthorizationServers: []string{issuerA}, ScopesSupported: []string{"mcp:tools"},
			DPoPSigningAlgValuesSupported: []string{"ES256"}, BearerMethodsSupported: []string{"body"}},
		{Resource: "https://mcp.example.test/", AuthorizationServers: []string{issuerB}},
		{Resource: resourceA, AuthorizationServers: []string{"https://dup.test"}},
		{Resource: "not a url"},
		{Resource: "https://a.example.test/tools", PublicOrigin: "https://a.example.test", AuthorizationServers: []string{issuerA}},
		{Resource: "https://b.example.test/tools", PublicOrigin: "https://B.example.test", AuthorizationServers: []string{issuerB}},
	})
	tests := []struct {
		name       string
		method     string
		host       string
		path       string
		wantStatus int
		wantBody   map[string]any
	}{
		{name: "resource with a path", method: http.MethodGet, path: "/.well-known/oauth-protected-resource/mcp", wantStatus: http.StatusOK,
			wantBody: map[string]any{"resource": resourceA, "authorization_servers": []any{issuerA}, "scopes_supported": []any{"mcp:tools"},
				"bearer_methods_supported": []any{"header"}, "dpop_signing_alg_values_supported": []any{"ES256"}}},
		{name: "resource at the origin root", method: http.MethodGet, path: "/.well-known/oauth-protected-resource", wantStatus: http.StatusOK,
			wantBody: map[string]any{"resource": "https://mcp.example.test/", "authorization_servers": []any{issuerB}, "bearer_methods_supported": []any{"header"}}},
		{name: "shared path, host a", method: http.MethodGet, host: "a.example.test", path: "/.well-known/oauth-protected-resource/tools", wantStatus: http.StatusOK,
			wantBody: map[string]any{"resource": "https://a.example.test/tools", "authorization_servers": []any{issuerA}, "bearer_methods_supported": []any{"header"}}},
		{name: "shared path, host b", method: http.MethodGet, host: "b.example.test", path: "/.well-known/oauth-protected-resource/tools", wantStatus: http.StatusOK,
			wantBody: map[string]any{"resource": "https://b.example.test/tools", "authorization_servers": []any{issuerB}, "bearer_methods_supported": []any{"header"}}},
		{name: "shared path, unknown host", method: http.MethodGet, host: "c.example.test", path: "/.well-known/oauth-protected-resource/tools", wantStatus: http.StatusNotFound},
		{name: "unknown resource", method: http.MethodGet, path: "/.well-known/oauth-protected-resource/other", wantStatus: http.StatusNotFound},
		{name: "other path", method: http.MethodGet, path: "/mcp", wantStatus: http.StatusNotFound},
		{name: "POST", method: http.MethodPost, path: "/.well-known/oauth-protected-resource/mcp", wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("%s %s = %d; want %d", tc.method, tc.path, rec.Code, tc.wantStatus)
			}
			if tc.wantBody == nil {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if diff := cmp.Diff(tc.wantBody, got); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetadataURL(t *testing.T) {
	tests := []struct{ origin, resource, want string }{
		{originA, resourceA, originA + "/.well-known/oauth-protected-resource/mcp"},
		{originA + "/", "https://mcp.example.test/", originA + "/.well-known/oauth-protected-resource"},
		{originA, "https://mcp.example.test/a/b/", originA + "/.well-known/oauth-protected-resource/a/b"},
		{originA, "https://mcp.example.test/a%20b", originA + "/.well-known/oauth-protected-resource/a%20b"},
		{originA, "::bad", originA + "/.well-known/oauth-protected-resource"},
	}
	for _, tc := range tests {
		if got := MetadataURL(tc.origin, tc.resource); got != tc.want {
			t.Errorf("MetadataURL(%q, %q) = %q; want %q", tc.origin, tc.resource, got, tc.want)
		}
	}
}
