package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/registry"
)

// listItems says where a list result keeps its items and what names them.
type listItems struct {
	member string // the result member holding the array
	key    string // the item member naming it
}

// listMethods are the list results filtered by data.mcp.list.
var listMethods = map[string]listItems{
	"tools/list":               {"tools", "name"},
	"prompts/list":             {"prompts", "name"},
	"resources/list":           {"resources", "uri"},
	"resources/templates/list": {"resourceTemplates", "uriTemplate"},
}

// privateRevision is the first revision whose list results carry
// cacheScope: a list filtered for one caller must not be cached for others.
const privateRevision = "2026-07-28"

// listed is one item of a list result.
type listed struct {
	raw  json.RawMessage
	name string
}

// filterList keeps the items of a list result the caller may use: one
// policy evaluation for the whole list. Tools are also checked against the
// registry, in Go as well as by the default rule: unregistered tools,
// unapproved ones and ones whose live definition is not the approved
// manifest are removed (the last are reported as drift, so calls are
// denied until the drift clears).
func (s *Server) filterList(ctx context.Context, ex *exchange, top, result map[string]json.RawMessage, it listItems) verdict {
	var raws []json.RawMessage
	if err := json.Unmarshal(result[it.member], &raws); err != nil {
		return s.refuseMessage(ex, denial.InvalidResponse, fmt.Errorf("result.%s is not an array", it.member))
	}
	in := *ex.in
	in.List = &policy.List{Method: ex.method()}
	items, err := s.collect(&in, raws, it)
	if err != nil {
		return s.refuseMessage(ex, denial.InvalidResponse, err)
	}
	allowed, err := s.judge.ListAllowed(ctx, &in)
	if err != nil {
		return s.refuseMessage(ex, denial.ReasonOf(err), err)
	}
	for name, v := range in.List.Tools {
		// Whatever a bundle's list rule says, a tool the registry has not
		// approved in exactly this definition is never listed.
		if !v.Registered || !v.Approved || v.Drifted {
			delete(allowed, name)
		}
	}
	kept := keep(items, allowed)
	result[it.member] = kept
	if in.MCP.Revision == privateRevision {
		result["cacheScope"] = json.RawMessage(`"private"`)
	}
	outcome := "filtered"
	if len(items) == countAllowed(items, allowed) {
		outcome = "passed"
	}
	s.observe(outcome, "")
	return verdict{action: actReplace, data: withResult(top, result)}
}

// collect reads each item's name into in.List (tools with their registry
// verdict) and records the live hashes of approved tools as drift state.
func (s *Server) collect(in *policy.Input, raws []json.RawMessage, it listItems) ([]listed, error) {
	items := make([]listed, 0, len(raws))
	if it.member != "tools" {
		for _, raw := range raws {
			name, err := itemName(raw, it.key)
			if err != nil {
				return nil, err
			}
			items = append(items, listed{raw: raw, name: name})
			in.List.Names = append(in.List.Names, name)
		}
		return items, nil
	}
	reg, server := s.judge.Registry(), in.Resource.Server
	in.List.Tools = make(map[string]policy.Tool, len(raws))
	live := map[string]string{}
	for _, raw := range raws {
		name, hash, err := registry.LiveHash(raw)
		if err != nil {
			return nil, err
		}
		if prev, dup := live[name]; dup && prev != hash {
			hash = "conflicting definitions"
		}
		items = append(items, listed{raw: raw, name: name})
		if name == "" {
			continue // not a tool: removed (the SDKs drop it too)
		}
		if _, approved := reg.ApprovedHash(server, name); approved {
			live[name] = hash
		}
		v := reg.ListVerdict(server, name, hash, nil)
		in.List.Tools[name] = policy.Tool{ID: v.ID, Registered: v.Registered, Approved: v.Approved,
			Drifted: v.Drifted, DriftReason: v.DriftReason, ArgumentsValid: v.ArgumentsValid, Annotations: v.Annotations}
	}
	s.recordDrift(server, live)
	return items, nil
}

// recordDrift shares what the list showed with the drift watch state, and
// logs each removed drifted tool with both hashes (the recorder logs new
// drift once; this line names the list that hid it).
func (s *Server) recordDrift(server string, live map[string]string) {
	if s.drift != nil {
		s.drift.Observe(server, live)
	}
}

// itemName reads the string member key of one list item.
func itemName(raw json.RawMessage, key string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("list item is not an object")
	}
	var name string
	if err := json.Unmarshal(m[key], &name); err != nil || name == "" {
		return "", fmt.Errorf("list item without a string %s", key)
	}
	return name, nil
}

// keep returns the JSON array of the allowed items, byte for byte.
func keep(items []listed, allowed map[string]bool) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	n := 0
	for _, it := range items {
		if it.name == "" || !allowed[it.name] {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(it.raw)
		n++
	}
	b.WriteByte(']')
	return b.Bytes()
}

func countAllowed(items []listed, allowed map[string]bool) int {
	n := 0
	for _, it := range items {
		if it.name != "" && allowed[it.name] {
			n++
		}
	}
	return n
}
