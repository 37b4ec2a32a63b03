package mcp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// trafficFixture is testdata/sdk-ts-traffic.json: requests of the MCP
// TypeScript SDK client as a server received them.
type trafficFixture struct {
	Source   string `json:"source"`
	Requests []struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"requests"`
}

func loadTraffic(t testing.TB) trafficFixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "sdk-ts-traffic.json"))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var fx trafficFixture
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	return fx
}

// postBodies returns the POST bodies of the TypeScript SDK traffic.
func postBodies(t testing.TB) [][]byte {
	var out [][]byte
	for _, r := range loadTraffic(t).Requests {
		if r.Method == "POST" {
			out = append(out, []byte(r.Body))
		}
	}
	return out
}

func TestSDKTrafficFixture(t *testing.T) {
	fx := loadTraffic(t)
	posts := 0
	for i, r := range fx.Requests {
		if r.Method != "POST" {
			continue
		}
		posts++
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			msg, err := Parse([]byte(r.Body), testLimits)
			if err != nil {
				t.Fatalf("Parse(%q) = %v; want success", r.Body, err)
			}
			agree(t, []byte(r.Body), msg)
			rev, err := SelectRevision(r.Headers[HeaderProtocolVersion], msg)
			if err != nil || rev != Rev20251125 {
				t.Fatalf("SelectRevision(%q, %s) = %q, %v; want %q", r.Headers[HeaderProtocolVersion], msg.Method, rev, err, Rev20251125)
			}
			if !KnownMethod(rev, msg.Method) {
				t.Errorf("KnownMethod(%q, %q) = false; want true", rev, msg.Method)
			}
		})
	}
	if posts < 10 {
		t.Errorf("fixture has %d POST requests; want at least 10", posts)
	}
}

func TestSDKTrafficToolCalls(t *testing.T) {
	var tools []string
	for _, body := range postBodies(t) {
		msg, err := Parse(body, testLimits)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", body, err)
		}
		if msg.Method == "tools/call" {
			tools = append(tools, msg.Tool)
		}
	}
	if len(tools) != 2 || tools[0] != "search_issues" || tools[1] != "delete_repo" {
		t.Errorf("tools called in the fixture = %q; want [search_issues delete_repo]", tools)
	}
}
