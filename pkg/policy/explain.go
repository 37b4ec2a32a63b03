package policy

import (
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// maxExplainLines bounds Explain's output.
const maxExplainLines = 1000

// explainLines turns a trace into one line per rule that produced a value
// ("rule data.mcp.authz.decision (decision.rego:26)"), and one per trace()
// note, de-duplicated, in evaluation order.
func explainLines(events []*topdown.Event) []string {
	seen := make(map[string]struct{})
	var lines []string
	for _, ev := range events {
		line, ok := explainLine(ev)
		if !ok {
			continue
		}
		if _, dup := seen[line]; dup {
			continue
		}
		seen[line] = struct{}{}
		lines = append(lines, line)
		if len(lines) == maxExplainLines {
			return append(lines, "(truncated)")
		}
	}
	return lines
}

// explainLine formats the events Explain keeps: a rule exit (the rule's
// body held and it produced a value) and a note.
func explainLine(ev *topdown.Event) (string, bool) {
	switch {
	case ev.Op == topdown.NoteOp:
		return "note " + ev.Message + location(ev.Location), true
	case ev.Op == topdown.ExitOp && ev.HasRule():
		return "rule " + ruleName(ev.Node.(*ast.Rule)) + location(ev.Node.Loc()), true
	}
	return "", false
}

// ruleName is the rule's full reference (data.<package>.<head>).
func ruleName(r *ast.Rule) string {
	if r.Module == nil {
		return r.Head.Ref().String()
	}
	return r.Ref().String()
}

func location(loc *ast.Location) string {
	if loc == nil {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", strings.TrimPrefix(loc.File, "/"), loc.Row)
}
