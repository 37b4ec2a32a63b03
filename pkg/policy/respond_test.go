package policy

import (
	"context"
	"errors"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// TestResponseQueries: the list and output questions decode strictly, and
// a bundle without the rules (or with malformed answers) is a policy_error,
// never an empty allow-everything answer.
func TestResponseQueries(t *testing.T) {
	const decision = `decision := {"allow": true, "reason": "allowed"}`
	tests := []struct {
		name    string
		extra   string // more modules: package mcp.list / mcp.output
		list    map[string]bool
		out     OutputDecision
		listErr bool
		outErr  bool
	}{
		{name: "no rules", listErr: true, outErr: true},
		{name: "rules",
			extra: "package mcp.list\n\nallowed contains n if some n in input.list.names\n\n" +
				"package mcp.output\n\ndecision := {\"block\": true, \"reason\": \"nope\", \"redact\": [[\"content\", 0, \"text\"]]}\n",
			list: map[string]bool{"a": true, "b": true},
			out:  OutputDecision{Block: true, Reason: "nope", Redact: [][]any{{"content", 0, "text"}}}},
		{name: "malformed answers",
			extra: "package mcp.list\n\nallowed := 7\n\n" +
				"package mcp.output\n\ndecision := {\"block\": \"yes\", \"reason\": \"x\"}\n",
			listErr: true, outErr: true},
		{name: "bad redaction path",
			extra:   "package mcp.output\n\ndecision := {\"block\": false, \"reason\": \"allowed\", \"redact\": [[-1]]}\n",
			listErr: true, outErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"authz.rego": "package mcp.authz\n\n" + decision + "\n", "data.json": emptyData}
			if tt.extra != "" {
				parts := splitPackages(tt.extra)
				for i, p := range parts {
					files[string(rune('a'+i))+".rego"] = p
				}
			}
			e := newEngine(t, Options{}, dirBundle(t, files))
			in := minimalInput()
			in.List = &List{Method: "prompts/list", Names: []string{"a", "b"}}
			got, err := e.ListAllowed(context.Background(), in)
			if (err != nil) != tt.listErr || (err == nil && len(got) != len(tt.list)) {
				t.Errorf("ListAllowed = %v, %v; want %v (error %v)", got, err, tt.list, tt.listErr)
			}
			if err != nil && !errors.Is(err, denial.New(denial.PolicyError, nil)) {
				t.Errorf("ListAllowed error %v; want policy_error", err)
			}
			in.List, in.Output = nil, &Output{Tool: "s/t", Result: map[string]any{}}
			d, err := e.JudgeOutput(context.Background(), in)
			if (err != nil) != tt.outErr {
				t.Fatalf("JudgeOutput = %+v, %v; want error %v", d, err, tt.outErr)
			}
			if err == nil && (d.Block != tt.out.Block || d.Reason != tt.out.Reason || len(d.Redact) != len(tt.out.Redact)) {
				t.Errorf("JudgeOutput = %+v; want %+v", d, tt.out)
			}
		})
	}
}

// splitPackages splits module text at each "package " line.
func splitPackages(s string) []string {
	var out []string
	start := 0
	for i := 1; i+8 <= len(s); i++ {
		if s[i-1] == '\n' && s[i:i+8] == "package " {
			out = append(out, s[start:i])
			start = i
		}
	}
	return append(out, s[start:])
}
