package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// deleteCallBody calls the destructive delete_repo of the default registry.
const deleteCallBody = `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"delete_repo","arguments":{"repo":"acme/api"}}}`

// toolCall is a tools/call of tool with arguments args and params._meta meta.
func toolCall(tool, args, meta string) string {
	body := `{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args
	if meta != "" {
		body += `,"_meta":` + meta
	}
	return body + "}}"
}

// TestPinnedAnnotationsReadOnlyClass: the default bundle's viewer role is
// granted issues/read_only by class; it calls the pinned read-only tools and
// is refused the others, whatever the request claims about annotations.
func TestPinnedAnnotationsReadOnlyClass(t *testing.T) {
	_, client := startAppYAML(t, e2eConfig)
	viewer := "Bearer " + mintAccess(t, map[string]any{"sub": "vera", "roles": []string{"viewer"}})
	check := func(body string) *mcpPost { return &mcpPost{authorization: viewer, body: body} }
	for _, body := range []string{
		searchCallBody,
		toolCall("get_issue", `{"repo":"acme/api","number":1}`, ""),
		toolCall("list_repos", `{}`, ""),
	} {
		wantAllow(t, "viewer "+body, mustCheck(t, client, check(body).request()))
	}
	for _, body := range []string{
		deleteCallBody,
		createCallBody,
		toolCall("delete_repo", `{"repo":"acme/api"}`, `{"annotations":{"readOnlyHint":true,"destructiveHint":false}}`),
	} {
		wantDeny(t, "viewer "+body, mustCheck(t, client, check(body).request()), 200, "tool_not_allowed")
	}
}

// TestPinnedAnnotationsDestructiveSettings: data settings that require DPoP,
// or one of a list of roles, for every destructive tool by its pinned
// annotations, and leave other tools alone.
func TestPinnedAnnotationsDestructiveSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]any
		roles    []string
		body     string
		status   int
		reason   string // "allowed" for an allow
	}{
		{"dpop: destructive with Bearer", map[string]any{"require_dpop": true}, []string{"admin"}, deleteCallBody, 401, "dpop_required"},
		{"dpop: read-only with Bearer", map[string]any{"require_dpop": true}, []string{"admin"}, searchCallBody, 0, "allowed"},
		{"dpop: non-destructive with Bearer", map[string]any{"require_dpop": true}, []string{"admin"}, createCallBody, 0, "allowed"},
		{"roles: destructive without owner", map[string]any{"roles": []string{"owner"}}, []string{"admin"}, deleteCallBody, 200, "tool_not_allowed"},
		{"roles: destructive with owner", map[string]any{"roles": []string{"owner"}}, []string{"admin", "owner"}, deleteCallBody, 0, "allowed"},
		{"roles: non-destructive without owner", map[string]any{"roles": []string{"owner"}}, []string{"admin"}, createCallBody, 0, "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyPolicies(t)
			setDestructiveTools(t, dir, tt.settings)
			_, client := startAppYAML(t, e2eConfig+"bundle:\n  path: "+dir+"\n")
			tok := "Bearer " + mintAccess(t, map[string]any{"roles": tt.roles})
			resp := mustCheck(t, client, mcpPost{authorization: tok, body: tt.body}.request())
			if tt.reason == "allowed" {
				wantAllow(t, tt.name, resp)
				return
			}
			wantDeny(t, tt.name, resp, tt.status, tt.reason)
		})
	}
}

// setDestructiveTools writes settings.destructive_tools into dir/data.json.
func setDestructiveTools(t *testing.T, dir string, v map[string]any) {
	t.Helper()
	file := filepath.Join(dir, "data.json")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]map[string]map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["mcp"]["settings"]["destructive_tools"] = v
	if b, err = json.Marshal(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPinnedAnnotationsLiveRelabelIgnored: a live server that relabels a
// tool the pin has as destructive (no hints) as read-only does not make it
// a read-only tool: the viewer is refused before and after (the relabel is
// drift), never allowed.
func TestPinnedAnnotationsLiveRelabelIgnored(t *testing.T) {
	up := newIssuesUpstream(t, "Search issues.")
	dir := driftBundle(t, up.http.URL) // pins search_issues without annotations
	cfg := e2eConfig + "bundle:\n  path: " + dir + "\ndrift_watch:\n  - server: issues\n    url: " + up.http.URL + "\n    interval: 1s\n"
	_, client := startAppYAML(t, cfg)
	admin := mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: searchCallBody}.request()
	if got := pollReason(t, client, admin, "allowed"); got != "allowed" {
		t.Fatalf("admin search_issues once verified: reason %q; want allowed", got)
	}
	viewer := mcpPost{authorization: "Bearer " + mintAccess(t, map[string]any{"roles": []string{"viewer"}}), body: searchCallBody}.request()
	wantDeny(t, "viewer, pinned without readOnlyHint", mustCheck(t, client, viewer), 200, "tool_not_allowed")

	mcp.AddTool(up.server, &mcp.Tool{Name: "search_issues", Description: "Search issues.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(context.Context, *mcp.CallToolRequest, searchArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	if got := pollReason(t, client, admin, "manifest_drift"); got != "manifest_drift" {
		t.Fatalf("after the live relabel: admin reason %q; want manifest_drift", got)
	}
	wantDeny(t, "viewer after the live relabel", mustCheck(t, client, viewer), 200, "manifest_drift")
}
