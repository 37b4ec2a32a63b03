package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// sdkTraffic is testdata/sdk-ts-traffic.json: HTTP requests a real
// TypeScript SDK client sent, captured at the server.
type sdkTraffic struct {
	Requests []struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"requests"`
}

// tokens is testdata/keys/tokens.json: each user's bearer token.
func tokens(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile("testdata/keys/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v.Token
	}
	return out
}

// envoyRequest shapes a captured HTTP request as Envoy's ext_authz filter
// sends it: pseudo-headers beside the lower-cased headers, body as a string.
func envoyRequest(method, path string, headers map[string]string, body, token string) *authv3.CheckRequest {
	h := map[string]string{":method": method, ":path": path, ":scheme": "http", ":authority": headers["host"]}
	for k, v := range headers {
		if k == "host" || k == "connection" {
			continue
		}
		h[strings.ToLower(k)] = strings.ReplaceAll(v, "TOKEN_PLACEHOLDER", token)
	}
	if body != "" {
		h["x-envoy-auth-partial-body"] = "false"
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: headers["host"], Scheme: "http", Protocol: "HTTP/1.1",
			Headers: h, Body: body, Size: int64(len(body)),
		},
	}}}
}

// TestSDKTrafficPerRole sends every request of the real SDK session as each
// role and checks the reference model's decision.
func TestSDKTrafficPerRole(t *testing.T) {
	_, conn := startApp(t)
	client := authv3.NewAuthorizationClient(conn)
	var traffic sdkTraffic
	b, _ := os.ReadFile("testdata/sdk-ts-traffic.json")
	if err := json.Unmarshal(b, &traffic); err != nil || len(traffic.Requests) == 0 {
		t.Fatalf("sdk traffic: %v", err)
	}
	toks := tokens(t)
	// The session calls search_issues and delete_repo; only admin may delete.
	denied := map[string]map[string]bool{
		"alice": {},
		"bob":   {"delete_repo": true},
		"carol": {"delete_repo": true},
	}
	for user, deny := range denied {
		for i, r := range traffic.Requests {
			tool := toolOf(r.Body)
			want := "allow"
			if deny[tool] {
				want = "deny"
			}
			resp, err := client.Check(context.Background(), envoyRequest(r.Method, r.Path, r.Headers, r.Body, toks[user]))
			if err != nil {
				t.Fatalf("%s request %d: %v", user, i, err)
			}
			if got := decision(resp); got != want {
				t.Errorf("%s request %d (%s %s %s): %s %q; want %s", user, i, r.Method, methodOf(r.Body), tool, got, reasonOf(resp), want)
			}
		}
	}
}

func toolOf(body string) string {
	var m struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	_ = json.Unmarshal([]byte(body), &m)
	if m.Method != "tools/call" {
		return ""
	}
	return m.Params.Name
}

func methodOf(body string) string {
	var m struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal([]byte(body), &m)
	return m.Method
}
