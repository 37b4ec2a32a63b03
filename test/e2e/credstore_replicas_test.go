package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
	"github.com/mcp-authz/mcp-authz/test/redisproc"
)

// redisConnectConfig is connectStackConfig's service with its credential
// store on the redis-server at addr, sealed with keyFile: replicas given the
// same two share one store.
func redisConnectConfig(t *testing.T, addr, keyFile string) string {
	t.Helper()
	return e2eConfig + "bundle: {path: " + connectBundle(t) + "}\nproviders:\n" +
		"  - {name: mail, kind: api_key, pattern: 'mk_[a-z0-9]{8,}', scopes: [mail.read]}\n" +
		"connect:\n  client_id: mcp-authz\n  base_url: https://connect.example.test\n" +
		"  encryption_key_file: " + keyFile + "\n  redis: {addr: \"" + addr + "\"}\n"
}

// TestCredentialStoreRedisTwoServiceInstances: two full service instances
// (each with its gate and upstream) on one real redis-server. A credential
// stored through replica A is injected by replica B into its upstream call;
// an operator's revoke on A's admin listener makes B elicit again.
func TestCredentialStoreRedisTwoServiceInstances(t *testing.T) {
	addr := redisproc.Start(t)
	keyFile := writeCredKey(t, t.TempDir())
	a, _ := connectStack(t, redisConnectConfig(t, addr, keyFile), false)
	b, logB := connectStack(t, redisConnectConfig(t, addr, keyFile), false)
	ctx := testCtx(t)
	const secret = "mk_replicashared77"
	storeMail(ctx, t, a, "alice", secret)
	alice := urlSession(ctx, t, b, "alice")
	res, err := alice.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	if err != nil || res.IsError {
		t.Fatalf("call on replica B with the credential stored through A: %+v %v (checks %v)", res, err, logB.entries)
	}
	if hs := b.Upstream.Headers(); len(hs) != 1 || hs[0].Get("x-mcp-connection-mail") != secret {
		t.Fatalf("replica B's upstream headers: %v", hs)
	}
	if body := revokeOn(ctx, t, a, "alice"); !strings.Contains(body, `"revoked":1`) {
		t.Fatalf("revoke on replica A: %s", body)
	}
	_, err = alice.CallTool(ctx, &mcp.CallToolParams{Name: "search_issues", Arguments: mailSearchArgs})
	var rpcErr *jsonrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeURLElicitationRequired {
		t.Fatalf("call on replica B after the revoke on A: %v; want -32042", err)
	}
	if len(b.Upstream.Headers()) != 1 {
		t.Fatal("the call after the revoke reached replica B's upstream")
	}
}

// storeMail stores sub's mail credential directly in s's store, as the
// connect flow would.
func storeMail(ctx context.Context, t *testing.T, s *mcpharness.Stack, sub, token string) {
	t.Helper()
	k := credstore.Key{Issuer: e2eIssuer, Subject: sub, Provider: "mail"}
	if err := s.App.Connect().Store().Put(ctx, k, credstore.Credential{AccessToken: token, Scopes: []string{"mail.read"}}); err != nil {
		t.Fatal(err)
	}
}

// urlSession connects sub through s's gate as a 2025-11-25 client that
// declared URL elicitation.
func urlSession(ctx context.Context, t *testing.T, s *mcpharness.Stack, sub string) *mcp.ClientSession {
	t.Helper()
	cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, sub, "admin"),
		mcpharness.ClientOptions{ProtocolVersion: "2025-11-25", Client: urlClient(&elicitRecorder{}), DisableStandaloneSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// revokeOn revokes every credential of sub through s's admin listener (an
// operator's DELETE /connections) and returns the answer's body.
func revokeOn(ctx context.Context, t *testing.T, s *mcpharness.Stack, sub string) string {
	t.Helper()
	u := "http://" + s.App.Addr("admin") + "/connections?iss=" + url.QueryEscape(e2eIssuer) + "&sub=" + sub
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	return string(body)
}
