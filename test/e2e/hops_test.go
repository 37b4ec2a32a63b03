package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// hopsConfig fronts two MCP servers on one host: hop A at /mcp, hop B at /b/mcp.
const hopsConfig = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
public_listen: 127.0.0.1:0
resources:
  - host: mcp.example.test
    path: /mcp
    resource: https://mcp.example.test/mcp
  - host: mcp.example.test
    path: /b/mcp
    resource: https://mcp.example.test/b/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
policy:
  deadline: 5s
`

const (
	hopB         = "https://mcp.example.test/b/mcp"
	hopBMetadata = "https://mcp.example.test/.well-known/oauth-protected-resource/b/mcp"
)

// TestPerHopAudience checks RFC 8707 per-hop audiences through the real
// app: a token for hop A is refused at hop B (also once verified and cached
// at A), with a challenge pointing at B's metadata, whether the hop comes
// from the host + path table or from Envoy's context_extensions.
func TestPerHopAudience(t *testing.T) {
	_, client := startAppYAML(t, hopsConfig)
	tokA := mintAccess(t, nil)
	tokB := mintAccess(t, map[string]any{"aud": hopB})
	list := func(tok, path string) mcpPost {
		return mcpPost{path: path, authorization: "Bearer " + tok, body: toolsListBody}
	}

	wantAllow(t, "token A at /mcp", mustCheck(t, client, list(tokA, "/mcp").request()))
	d := wantDeny(t, "token A at /b/mcp", mustCheck(t, client, list(tokA, "/b/mcp").request()), 401, "token_invalid")
	wantHopBChallenge(t, "token A at /b/mcp", d)
	wantAllow(t, "token B at /b/mcp", mustCheck(t, client, list(tokB, "/b/mcp").request()))
	d = wantDeny(t, "token B at /mcp", mustCheck(t, client, list(tokB, "/mcp").request()), 401, "token_invalid")
	if c := d.headers["www-authenticate"]; !strings.Contains(c, `resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp"`) {
		t.Errorf("token B at /mcp: WWW-Authenticate %q; want hop A's resource_metadata", c)
	}

	// An in-cluster host matches no row of the table: without
	// context_extensions the path is unknown, with them Envoy's route picks hop B.
	inCluster := list(tokA, "/b/mcp")
	inCluster.host = "issues-b.mcp.svc.cluster.local"
	wantDeny(t, "in-cluster host without context_extensions", mustCheck(t, client, inCluster.request()), 404, "path_not_found")
	inCluster.ctxExt = map[string]string{"resource": hopB}
	d = wantDeny(t, "token A, context_extensions hop B", mustCheck(t, client, inCluster.request()), 401, "token_invalid")
	wantHopBChallenge(t, "token A, context_extensions hop B", d)
	inCluster.authorization = "Bearer " + tokB
	wantAllow(t, "token B, context_extensions hop B", mustCheck(t, client, inCluster.request()))
}

func wantHopBChallenge(t *testing.T, what string, d denyView) {
	t.Helper()
	c := d.headers["www-authenticate"]
	if !strings.HasPrefix(c, `Bearer error="invalid_token"`) || !strings.Contains(c, `resource_metadata="`+hopBMetadata+`"`) {
		t.Errorf("%s: WWW-Authenticate %q; want Bearer invalid_token with resource_metadata=%q", what, c, hopBMetadata)
	}
}

// TestPerHopMetadata checks that the public listener serves RFC 9728
// metadata for each configured resource.
func TestPerHopMetadata(t *testing.T) {
	a, _ := startAppYAML(t, hopsConfig)
	for path, resource := range map[string]string{
		"/.well-known/oauth-protected-resource/mcp":   e2eResource,
		"/.well-known/oauth-protected-resource/b/mcp": hopB,
	} {
		req, err := http.NewRequest(http.MethodGet, "http://"+a.Addr("public")+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "mcp.example.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var doc struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil {
			t.Errorf("GET %s = %d %s; want 200 and a JSON document", path, resp.StatusCode, body)
			continue
		}
		if doc.Resource != resource || !slices.Contains(doc.AuthorizationServers, e2eIssuer) {
			t.Errorf("GET %s = %s; want resource %q and authorization server %q", path, body, resource, e2eIssuer)
		}
	}
}
