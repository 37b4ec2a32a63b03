package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// redacted replaces a string data.mcp.output asks to redact.
const redacted = "[REDACTED]"

// checkOutput judges a tools/call result, in order: its size against the
// tool's bound, its structuredContent against the approved outputSchema
// (skipped for isError results, which carry no structured output), then
// data.mcp.output, which may block it or redact strings in it.
func (s *Server) checkOutput(ctx context.Context, ex *exchange, top, result map[string]json.RawMessage, size int) verdict {
	server, tool := ex.in.Resource.Server, ex.in.MCP.Tool
	reg := s.judge.Registry()
	limit := reg.MaxOutputBytes(server, tool)
	if limit == 0 {
		limit = s.opts.MaxOutputBytes
	}
	if size > limit {
		return s.refuseMessage(ex, denial.OutputTooLarge, fmt.Errorf("%d bytes, limit %d", size, limit))
	}
	doc, err := decodeResult(encodeObject(result))
	if err != nil {
		return s.refuseMessage(ex, denial.InvalidResponse, err)
	}
	if isErr, _ := doc["isError"].(bool); !isErr {
		sc, has := doc["structuredContent"]
		if ok, detail := reg.CheckOutput(server, tool, sc, has); !ok {
			return s.refuseMessage(ex, denial.OutputSchemaMismatch, fmt.Errorf("structuredContent: %s", detail))
		}
	}
	in := *ex.in
	in.Output = &policy.Output{Tool: server + "/" + tool, Result: doc}
	d, err := s.judge.JudgeOutput(ctx, &in)
	if err != nil {
		return s.refuseMessage(ex, denial.ReasonOf(err), err)
	}
	if d.Block {
		return s.refuseMessage(ex, denial.Reason(d.Reason), fmt.Errorf("blocked by data.mcp.output"))
	}
	if len(d.Redact) == 0 {
		s.observe("passed", "")
		return pass()
	}
	n := 0
	for _, p := range d.Redact {
		if redact(doc, p) {
			n++
		}
	}
	s.opts.Logger.Info("extproc: tool output redacted", "tool", server+"/"+tool, "strings", n)
	s.observe("redacted", "")
	out, err := encodeValue(doc)
	if err != nil {
		return s.refuseMessage(ex, denial.Internal, err)
	}
	top["result"] = out
	return verdict{action: actReplace, data: encodeObject(top)}
}

// decodeResult decodes a result object with exact numbers.
func decodeResult(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	return m, nil
}

// encodeValue encodes v without HTML escaping (the upstream's text stays
// as it was, apart from redactions).
func encodeValue(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// redact replaces the string at path inside doc; it reports whether there
// was one. Paths that lead elsewhere change nothing.
func redact(doc any, path []any) bool {
	if len(path) == 0 {
		return false
	}
	cur := doc
	for i, step := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			k, ok := step.(string)
			if !ok {
				return false
			}
			if last {
				return setString(func(v string) { c[k] = v }, c[k])
			}
			cur = c[k]
		case []any:
			idx, ok := step.(int)
			if !ok || idx < 0 || idx >= len(c) {
				return false
			}
			if last {
				return setString(func(v string) { c[idx] = v }, c[idx])
			}
			cur = c[idx]
		default:
			return false
		}
	}
	return false
}

func setString(set func(string), old any) bool {
	s, ok := old.(string)
	if !ok || strings.EqualFold(s, redacted) {
		return ok
	}
	set(redacted)
	return true
}
