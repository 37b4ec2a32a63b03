package extproc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// action is what becomes of one JSON-RPC message of a response.
type action int

const (
	actPass    action = iota // as the upstream sent it
	actReplace               // replaced by verdict.data (rewritten, or an error)
	actDrop                  // removed (an SSE event no client may see)
)

// verdict is the processor's answer for one message.
type verdict struct {
	action action
	data   []byte
	reason string // the refusal reason, when refused
}

func pass() verdict { return verdict{action: actPass} }

// message judges one JSON-RPC message of a response. Only the response
// answering this stream's request is rewritten; notifications and server
// requests pass; a response to anything else is removed (a client matches
// responses by id across streams, so it could deliver an unfiltered list).
// A message that is not one strict JSON-RPC message is refused: a lenient
// client could still read a response in it.
func (s *Server) message(ctx context.Context, ex *exchange, data []byte) verdict {
	msg, err := mcp.Parse(data, s.lim)
	if err != nil {
		reason := denial.InvalidResponse
		if errors.Is(err, mcp.ErrTooLarge) {
			reason = denial.ResponseTooLarge
		}
		return s.refuseMessage(ex, reason, err)
	}
	if msg.Kind != mcp.KindResponse {
		return pass()
	}
	if ex.id() == nil || !bytes.Equal(msg.ID, ex.id()) {
		s.refuse(ex, string(denial.UnexpectedResponse), fmt.Errorf("response id %s on the stream of request id %s", msg.ID, ex.id()))
		return verdict{action: actDrop, reason: string(denial.UnexpectedResponse)}
	}
	top, result, err := splitResult(data)
	if err != nil {
		return s.refuseMessage(ex, denial.InvalidResponse, err)
	}
	if result == nil {
		return pass() // an error response carries nothing to filter
	}
	if items, ok := listMethods[ex.method()]; ok {
		return s.filterList(ctx, ex, top, result, items)
	}
	if ex.method() == "tools/call" {
		return s.checkOutput(ctx, ex, top, result, len(data))
	}
	return pass()
}

// refuseMessage replaces the answer to the request with a JSON-RPC error.
func (s *Server) refuseMessage(ex *exchange, reason denial.Reason, cause error) verdict {
	s.refuse(ex, string(reason), cause)
	return verdict{action: actReplace, data: errorMessage(ex.id(), string(reason)), reason: string(reason)}
}

// splitResult decodes a response's members and its result object (nil
// result: an error response).
func splitResult(data []byte) (map[string]json.RawMessage, map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, fmt.Errorf("response: %w", err)
	}
	raw, ok := top["result"]
	if !ok {
		return top, nil, nil
	}
	var result map[string]json.RawMessage
	if err := json.Unmarshal(raw, &result); err != nil || result == nil {
		return nil, nil, errors.New("result is not an object")
	}
	return top, result, nil
}

// encodeObject writes members in sorted order, values byte for byte.
func encodeObject(m map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(m[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// withResult returns the response top with result replaced.
func withResult(top, result map[string]json.RawMessage) []byte {
	top["result"] = encodeObject(result)
	return encodeObject(top)
}
