package registry

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/registry/jcs"
)

// contentHashVector is one file of testdata/contenthash: a definition as a
// server would send it, its RFC 8785 canonical form without contentHash
// (written by hand) and the SEP-3140 content hash of that form (computed
// outside Go).
type contentHashVector struct {
	Definition  json.RawMessage `json:"definition"`
	Canonical   string          `json:"canonical"`
	ContentHash string          `json:"content_hash"`
}

// TestContentHashVectors: the hashed form leaves contentHash out, keeps
// non-ASCII text as UTF-8 and normalises numbers as JCS requires.
func TestContentHashVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/contenthash/*.json")
	if err != nil || len(files) < 4 {
		t.Fatalf("testdata/contenthash: %d files, %v; want at least 4", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			var v contentHashVector
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			def := decode(t, string(v.Definition))
			canon, err := jcs.Marshal(withoutContentHash(def))
			if err != nil || string(canon) != v.Canonical {
				t.Errorf("canonical form = %s, %v; want %s", canon, err, v.Canonical)
			}
			if got, err := ContentHash(def); err != nil || got != v.ContentHash {
				t.Errorf("ContentHash = %s, %v; want %s", got, err, v.ContentHash)
			}
			if !ValidContentHash(v.ContentHash) {
				t.Errorf("ValidContentHash(%s) = false", v.ContentHash)
			}
		})
	}
}

func TestValidContentHash(t *testing.T) {
	good := "sha256-0o8OzVrV64GQUYetBspKGJfUfAMwboTyGTvVu1BpiHY"
	tests := []struct {
		in   string
		want bool
	}{
		{good, true},
		{good + "=", false}, // padded
		{strings.Replace(good, "-0o8", "-0o+", 1), false}, // base64, not base64url
		{"sha512-" + good[7:], false},
		{good[:len(good)-1], false},
		{good[:len(good)-1] + "Z", false}, // non-zero spare bits: not a canonical encoding
		{strings.Repeat("0", 64), false},  // the legacy hex form
	}
	for _, tt := range tests {
		if got := ValidContentHash(tt.in); got != tt.want {
			t.Errorf("ValidContentHash(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

// TestContentHashFromHex: the legacy hex and the new form name one digest.
func TestContentHashFromHex(t *testing.T) {
	m := decode(t, searchManifest)
	hexSum, _ := Hash(m)
	want, _ := ContentHash(m)
	if got, err := ContentHashFromHex(hexSum); err != nil || got != want {
		t.Errorf("ContentHashFromHex(%s) = %s, %v; want %s", hexSum, got, err, want)
	}
	if _, err := ContentHashFromHex("abc"); err == nil {
		t.Error("ContentHashFromHex(abc) = nil error; want an error")
	}
}

// pinned returns a tool entry for manifest pinned the given ways:
// "content_hash", "sha256" or both.
func pinned(t testing.TB, manifest string, fields ...string) map[string]any {
	t.Helper()
	m := decode(t, manifest)
	e := map[string]any{"manifest": m}
	for _, f := range fields {
		switch f {
		case "content_hash":
			e[f], _ = ContentHash(m)
		case "sha256":
			e[f], _ = Hash(m)
		}
	}
	return e
}

// TestContentHashPins loads bundles pinned with hex, with the new form,
// with both agreeing, and refuses both disagreeing.
func TestContentHashPins(t *testing.T) {
	other := strings.Replace(searchManifest, `"Search."`, `"Search everything."`, 1)
	otherHex, _ := Hash(decode(t, other))
	tests := []struct {
		name       string
		entry      func(t *testing.T) map[string]any
		wantErr    string // "" loads
		wantLegacy bool
	}{
		{"hex only", func(t *testing.T) map[string]any { return pinned(t, searchManifest, "sha256") }, "", true},
		{"content_hash only", func(t *testing.T) map[string]any { return pinned(t, searchManifest, "content_hash") }, "", false},
		{"both agree", func(t *testing.T) map[string]any { return pinned(t, searchManifest, "sha256", "content_hash") }, "", true},
		{"both disagree", func(t *testing.T) map[string]any {
			e := pinned(t, searchManifest, "content_hash")
			e["sha256"] = otherHex
			return e
		}, "disagree", false},
		{"content_hash of another manifest", func(t *testing.T) map[string]any {
			e := pinned(t, searchManifest)
			e["content_hash"], _ = ContentHash(decode(t, other))
			return e
		}, "does not match the manifest", false},
		{"content_hash malformed", func(t *testing.T) map[string]any {
			e := pinned(t, searchManifest)
			e["content_hash"] = otherHex
			return e
		}, `content_hash: want "sha256-"`, false},
		{"manifest advertises a wrong contentHash", func(t *testing.T) map[string]any {
			m := decode(t, searchManifest)
			m["contentHash"] = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			h, _ := ContentHash(m)
			return map[string]any{"manifest": m, "content_hash": h}
		}, "content_hash_mismatch", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := map[string]any{"servers": map[string]any{"issues": map[string]any{
				"resource": "https://issues.example.test/mcp",
				"tools":    map[string]any{"search": tt.entry(t)},
			}}}
			r, err := Load(data, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %v; want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			want, _ := ContentHash(decode(t, searchManifest))
			if got := r.ApprovedHashes("issues")["search"]; got != want {
				t.Errorf("approved hash = %s; want the content hash %s", got, want)
			}
			if got := r.LegacyPins(); (len(got) == 1) != tt.wantLegacy {
				t.Errorf("LegacyPins() = %v; want legacy %v", got, tt.wantLegacy)
			}
		})
	}
}

// TestContentHashManifestWithOwnHash: a manifest carrying its correct
// contentHash loads, and the pin is over the definition without it.
func TestContentHashManifestWithOwnHash(t *testing.T) {
	m := decode(t, searchManifest)
	h, _ := ContentHash(m)
	m["contentHash"] = h
	if got, _ := ContentHash(m); got != h {
		t.Fatalf("ContentHash with its own member = %s; want %s", got, h)
	}
	data := map[string]any{"servers": map[string]any{"issues": map[string]any{
		"resource": "r", "tools": map[string]any{"search": map[string]any{"manifest": m, "content_hash": h}},
	}}}
	if _, err := Load(data, Options{}); err != nil {
		t.Fatalf("Load = %v", err)
	}
}

// TestPinWritesContentHash: pin writes content_hash, drops the hex, and
// leaves a definition advertising a wrong contentHash unapproved.
func TestPinWritesContentHash(t *testing.T) {
	good := decode(t, searchManifest)
	bad := decode(t, strings.Replace(searchManifest, `"search"`, `"bad"`, 1))
	bad["contentHash"] = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	prev := &ServerData{Resource: "r", Tools: map[string]PinnedTool{"search": {SHA256: strings.Repeat("0", 64)}}}
	sd, changes := Pin("issues", "", map[string]map[string]any{"search": good, "bad": bad}, prev)
	want, _ := ContentHash(good)
	if e := sd.Tools["search"]; e.ContentHash != want || e.SHA256 != "" {
		t.Errorf("pinned search = content_hash %q sha256 %q; want %q and none", e.ContentHash, e.SHA256, want)
	}
	if e := sd.Tools["bad"]; e.ContentHash != "" {
		t.Errorf("pinned bad = content_hash %q; want unapproved", e.ContentHash)
	}
	if !slices.ContainsFunc(changes, func(c Change) bool {
		return c.Tool == "bad" && strings.Contains(c.Detail, DriftContentHashMismatch)
	}) {
		t.Errorf("Pin changes = %v; want a content_hash_mismatch for bad", changes)
	}
	var buf bytes.Buffer
	path := filepath.Join(t.TempDir(), "data.json")
	if err := WriteServerFile(path, sd); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	buf.Write(b)
	if !strings.Contains(buf.String(), `"content_hash": "`+want+`"`) || strings.Contains(buf.String(), `"sha256"`) {
		t.Errorf("written file = %s; want content_hash and no sha256", buf.String())
	}
}

// TestAnnotationsFromPin: the verdict carries the approved manifest's
// boolean hints only, and nothing for an unapproved tool.
func TestAnnotationsFromPin(t *testing.T) {
	m := `{"name":"del","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":false,"destructiveHint":true,"openWorldHint":"yes","title":"Delete"}}`
	data := map[string]any{"servers": map[string]any{"s": map[string]any{
		"resource": "r", "tools": map[string]any{"del": pinned(t, m, "content_hash"), "draft": map[string]any{}},
	}}}
	r := mustLoad(t, data)
	got := r.Check("s", "del", nil, nil).Annotations
	if len(got) != 2 || got["readOnlyHint"] != false || got["destructiveHint"] != true {
		t.Errorf("Check(del).Annotations = %v; want readOnlyHint false, destructiveHint true only", got)
	}
	if got := r.Check("s", "draft", nil, nil).Annotations; got != nil {
		t.Errorf("Check(draft).Annotations = %v; want nil", got)
	}
}
