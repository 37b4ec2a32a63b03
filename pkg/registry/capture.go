package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"sync"

	"github.com/mcp-authz/mcp-authz/pkg/registry/jcs"
)

// recorder keeps a copy of every response body read during a fetch, up to a
// total byte limit, so tool definitions can be read exactly as sent.
type recorder struct {
	mu     sync.Mutex
	limit  int64
	used   int64
	over   bool
	bodies []*recordedBody
}

type recordedBody struct {
	sse bool
	buf bytes.Buffer
}

func (r *recorder) wrap(contentType string, body io.ReadCloser) io.ReadCloser {
	mt, _, _ := mime.ParseMediaType(contentType)
	rb := &recordedBody{sse: mt == "text/event-stream"}
	r.mu.Lock()
	r.bodies = append(r.bodies, rb)
	r.mu.Unlock()
	return &recordingBody{ReadCloser: body, rec: r, into: rb}
}

func (r *recorder) overLimit() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.over
}

// recordingBody tees reads into the recorder and fails past the limit.
type recordingBody struct {
	io.ReadCloser
	rec  *recorder
	into *recordedBody
}

var errBodyLimit = errors.New("response byte limit reached")

// Read implements io.Reader.
func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.rec.mu.Lock()
	defer b.rec.mu.Unlock()
	b.rec.used += int64(n)
	if b.rec.used > b.rec.limit {
		b.rec.over = true
		return 0, errBodyLimit
	}
	b.into.buf.Write(p[:n])
	return n, err
}

// definitions returns the recorded definition of each tool in names.
func (r *recorder) definitions(names []string, log *slog.Logger) (map[string]map[string]any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	raw := map[string]map[string]any{}
	for _, b := range r.bodies {
		payloads := [][]byte{b.buf.Bytes()}
		if b.sse {
			payloads = sseData(b.buf.Bytes())
		}
		for _, p := range payloads {
			if err := collectTools(p, raw); err != nil {
				return nil, err
			}
		}
	}
	out := make(map[string]map[string]any, len(names))
	for _, n := range names {
		def, ok := raw[n]
		if !ok {
			return nil, fmt.Errorf("no raw definition recorded for tool %q", safeToken(n))
		}
		out[n] = def
	}
	if dropped := len(raw) - len(out); dropped > 0 && log != nil {
		log.Warn("registry: the MCP SDK rejected tools the server listed", "count", dropped)
	}
	return out, nil
}

// collectTools adds the tools of a tools/list result in payload to raw.
// Payloads that are not such a result are ignored.
func collectTools(payload []byte, raw map[string]map[string]any) error {
	var msg struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if json.Unmarshal(payload, &msg) != nil {
		return nil
	}
	for _, t := range msg.Result.Tools {
		def, name, err := decodeDefinition(t)
		if err != nil {
			return err
		}
		if name == "" {
			continue // not a tool object; the SDK drops it too
		}
		if prev, dup := raw[name]; dup && !sameJSON(prev, def) {
			return fmt.Errorf("tool %q listed twice with different definitions", safeToken(name))
		}
		raw[name] = def
	}
	return nil
}

// decodeDefinition checks one tool definition is I-JSON and decodes it. The
// name is "" when the definition is not an object with a string name.
func decodeDefinition(t json.RawMessage) (map[string]any, string, error) {
	if _, err := jcs.Canonicalize(t); err != nil {
		return nil, "", fmt.Errorf("tool definition: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var def any
	if err := dec.Decode(&def); err != nil {
		return nil, "", fmt.Errorf("tool definition: %w", err)
	}
	obj, _ := def.(map[string]any)
	name, _ := obj["name"].(string)
	return obj, name, nil
}

// sseData returns the data of each server-sent event in b (lines joined
// with "\n"), including a final event cut short by the end of b.
func sseData(b []byte) [][]byte {
	var out [][]byte
	var data []byte
	has := false
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if has {
				out = append(out, data)
			}
			data, has = nil, false
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if has {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
			has = true
		}
	}
	if has {
		out = append(out, data)
	}
	return out
}
