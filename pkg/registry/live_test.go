package registry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

const liveDef = `{"name":"get_stats","description":"Stats.","inputSchema":{"type":"object"},
"outputSchema":{"type":"object","properties":{"open":{"type":"integer"}},"required":["open"]}}`

func liveRegistry(t *testing.T, extra map[string]any) (*Registry, string) {
	t.Helper()
	r, err := liveLoad(extra)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r, r.servers["s"].tools["get_stats"].hash
}

// liveLoad loads a registry with get_stats approved, its entry extended by extra.
func liveLoad(extra map[string]any) (*Registry, error) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(liveDef))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	h, err := ContentHash(m)
	if err != nil {
		return nil, err
	}
	entry := map[string]any{"content_hash": h, "manifest": m}
	for k, v := range extra {
		entry[k] = v
	}
	return Load(map[string]any{"servers": map[string]any{"s": map[string]any{
		"resource": "https://r.example/mcp", "tools": map[string]any{"get_stats": entry, "draft": map[string]any{}},
	}}}, Options{})
}

func TestLiveHashMatchesPin(t *testing.T) {
	r, approved := liveRegistry(t, nil)
	// Key order and whitespace do not matter; a changed description does.
	reordered := `{"inputSchema":{"type":"object"},"outputSchema":{"required":["open"],"type":"object","properties":{"open":{"type":"integer"}}},"description":"Stats.","name":"get_stats"}`
	tests := []struct {
		name, def, wantName string
		drifted             bool
	}{
		{"approved, reordered", reordered, "get_stats", false},
		{"description changed", strings.Replace(liveDef, "Stats.", "Stats!", 1), "get_stats", true},
		{"advertises a wrong contentHash", strings.Replace(reordered, `"name"`, `"contentHash":"sha256-AAAA","name"`, 1), "get_stats", true},
		{"not a tool", `{"description":"x"}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, h, err := LiveHash(json.RawMessage(tt.def))
			if err != nil || name != tt.wantName {
				t.Fatalf("LiveHash = %q, %v; want %q", name, err, tt.wantName)
			}
			if name == "" {
				return
			}
			v := r.ListVerdict("s", name, h, nil)
			if v.Drifted != tt.drifted || !v.Approved || !v.ArgumentsValid {
				t.Errorf("ListVerdict(live %s, approved %s) = %+v; want drifted %v", h, approved, v, tt.drifted)
			}
		})
	}
	if v := r.ListVerdict("s", "draft", "x", nil); !v.Registered || v.Approved {
		t.Errorf("ListVerdict(unapproved) = %+v; want registered, not approved", v)
	}
	if v := r.ListVerdict("s", "nope", "x", nil); v.Registered {
		t.Errorf("ListVerdict(unknown) = %+v; want not registered", v)
	}
	if _, _, err := LiveHash(json.RawMessage(`{"name":"a","n":1e999}`)); err == nil {
		t.Errorf("LiveHash(non I-JSON number) = nil error; want refused")
	}
}

func TestCheckOutput(t *testing.T) {
	r, _ := liveRegistry(t, map[string]any{"max_output_bytes": json.Number("100")})
	tests := []struct {
		name   string
		sc     any
		has    bool
		ok     bool
		detail string
	}{
		{"valid", map[string]any{"open": json.Number("3")}, true, true, ""},
		{"wrong type", map[string]any{"open": "3"}, true, false, "/open: type"},
		{"missing member", map[string]any{}, true, false, "(root): required"},
		{"absent", nil, false, false, "(root): structuredContent missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, detail := r.CheckOutput("s", "get_stats", tt.sc, tt.has)
			if ok != tt.ok || detail != tt.detail {
				t.Errorf("CheckOutput = %v, %q; want %v, %q", ok, detail, tt.ok, tt.detail)
			}
		})
	}
	if got := r.MaxOutputBytes("s", "get_stats"); got != 100 {
		t.Errorf("MaxOutputBytes = %d; want 100", got)
	}
	if ok, _ := r.CheckOutput("s", "draft", nil, false); ok {
		t.Errorf("CheckOutput(unapproved tool) = ok; want refused")
	}
	if _, err := liveLoad(map[string]any{"max_output_bytes": "big"}); err == nil {
		t.Errorf("Load(max_output_bytes \"big\") = nil error; want refused")
	}
}

// TestWatcherObserve: what a list shows is drift state shared with polls:
// logged and counted once, merged per tool, and cleared by the approved
// definition.
func TestWatcherObserve(t *testing.T) {
	var logs bytes.Buffer
	w, err := NewWatcher(WatcherConfig{
		Approved: func(string) map[string]string { return map[string]string{"a": "h1", "b": "h2"} },
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Observe("s", map[string]string{"a": "evil"})
	w.Observe("s", map[string]string{"a": "evil"}) // the same drift again: counted once
	if !w.Drifted("s/a", "h1") || w.Drifted("s/b", "h2") {
		t.Fatalf("Drifted(a, b) = %v, %v; want true, false (b never listed on an unpolled server)", w.Drifted("s/a", "h1"), w.Drifted("s/b", "h2"))
	}
	if w.DriftCount() != 1 || strings.Count(logs.String(), "drifted") != 1 || !strings.Contains(logs.String(), "evil") {
		t.Errorf("DriftCount = %d, logs %q; want one drift logged with the live hash", w.DriftCount(), logs.String())
	}
	w.Observe("s", map[string]string{"b": "h2"}) // another page: a keeps its state
	if !w.Drifted("s/a", "h1") {
		t.Errorf("a list without a cleared a's drift")
	}
	w.Observe("s", map[string]string{"a": "h1"})
	if w.Drifted("s/a", "h1") {
		t.Errorf("the approved definition did not clear the drift")
	}
	w.Observe("s", map[string]string{"a": "evil"})
	if w.DriftCount() != 2 {
		t.Errorf("DriftCount after drifting again = %d; want 2", w.DriftCount())
	}
}
