package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// requiredRecordKeys are the keys every decision record carries.
var requiredRecordKeys = []string{
	"decision_id", "timestamp", "request_id", "trace_id", "subject", "issuer", "client_id", "workload_principal",
	"resource", "mcp_revision", "method", "tool", "manifest_hash", "decision", "reason", "http_status",
	"jsonrpc_code", "bundle_revision", "mode", "enforced_decision", "latency_ns", "stage_latency_ns", "rate_limits",
	"rate_limit_backend",
}

// logConfig is testConfig with a decision log in file path and extra YAML.
func logConfig(path, extra string) string {
	return testConfig + "decision_log:\n  output: file\n  path: " + path + "\n" + extra
}

// readRecords reads the decision log file: one JSON object per line.
func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("decision log: %v", err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("decision log line %q: %v", sc.Text(), err)
		}
		requireProtojsonLine(t, sc.Bytes())
		out = append(out, r)
	}
	return out
}

// requireProtojsonLine holds a line the server wrote (by its hand-written
// encoder) to the format's definition: protojson reads it back strictly
// into a DecisionRecord, and protojson writing that record (proto names,
// every field) gives the same JSON once whitespace is compacted.
func requireProtojsonLine(t *testing.T, line []byte) {
	t.Helper()
	var rec mcpauthzv1.DecisionRecord
	if err := protojson.Unmarshal(line, &rec); err != nil {
		t.Fatalf("decision log line %s: protojson cannot read it: %v", line, err)
	}
	want, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(&rec)
	if err != nil {
		t.Fatal(err)
	}
	var got, ref bytes.Buffer
	if err := errors.Join(json.Compact(&got, line), json.Compact(&ref, want)); err != nil {
		t.Fatal(err)
	}
	if got.String() != ref.String() {
		t.Errorf("decision log line\n%s\nis not what protojson writes for its record:\n%s", got.String(), ref.String())
	}
}

// mixSecrets are the strings of the fixture mix no record may hold: each
// token, and each argument value.
func mixSecrets(t *testing.T, reqs []*authv3.CheckRequest) []string {
	t.Helper()
	var out []string
	for _, r := range reqs {
		h := r.GetAttributes().GetRequest().GetHttp()
		if a := h.GetHeaders()["authorization"]; a != "" {
			out = append(out, strings.TrimPrefix(a, "Bearer "))
		}
		var msg struct {
			Params struct {
				Arguments map[string]any `json:"arguments"`
			} `json:"params"`
		}
		_ = json.Unmarshal([]byte(h.GetBody()), &msg)
		for _, v := range msg.Params.Arguments {
			if s, ok := v.(string); ok && len(s) > 6 {
				out = append(out, s)
			}
		}
	}
	return out
}

// runMix sends the fixture mix and returns the requests and responses.
func runMix(t *testing.T, client authv3.AuthorizationClient) ([]*authv3.CheckRequest, []*authv3.CheckResponse) {
	t.Helper()
	reqs := loadMix(t, "testdata/mcp-mix.json")
	resps := make([]*authv3.CheckResponse, len(reqs))
	for i, req := range reqs {
		resps[i] = mustCheck(t, client, req)
	}
	return reqs, resps
}

func mixExpect(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/mcp-mix.expect.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

// byRequestID indexes records by request_id, failing on a duplicate.
func byRequestID(t *testing.T, recs []map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range recs {
		id, _ := r["request_id"].(string)
		if _, dup := out[id]; dup {
			t.Errorf("two records for request_id %q", id)
		}
		out[id] = r
	}
	return out
}

func TestDecisionLogFixtureMix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	a, client := startAppYAML(t, logConfig(path, ""))
	reqs, resps := runMix(t, client)
	if err := a.Shutdown(); err != nil { // flushes the log
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	for _, s := range mixSecrets(t, reqs) {
		if strings.Contains(string(raw), s) {
			t.Errorf("decision log holds a token or argument value %.20q…", s)
		}
	}
	recs := byRequestID(t, readRecords(t, path))
	if len(recs) != len(reqs) {
		t.Fatalf("%d records for %d checks", len(recs), len(reqs))
	}
	want := mixExpect(t)
	for i, req := range reqs {
		id := req.GetAttributes().GetRequest().GetHttp().GetHeaders()["x-request-id"]
		r := recs[id]
		if r == nil {
			t.Errorf("mix[%d]: no record for request %s", i, id)
			continue
		}
		checkRecord(t, i, r, want[i], reasonOf(resps[i]), a.Engine().Revision())
		if sub := tokenSubject(req); r["subject"] != sub && !strings.HasPrefix(reasonOf(resps[i]), "token_") {
			t.Errorf("mix[%d]: record subject %v; want the token's %q", i, r["subject"], sub)
		}
	}
}

// checkRecord checks one record against the decision on the wire.
func checkRecord(t *testing.T, i int, r map[string]any, decision, reason, revision string) {
	t.Helper()
	for _, k := range requiredRecordKeys {
		if _, ok := r[k]; !ok {
			t.Errorf("mix[%d]: record lacks %q: %v", i, k, r)
		}
	}
	if r["decision"] != decision || r["mode"] != "enforce" || r["enforced_decision"] != decision {
		t.Errorf("mix[%d]: record decision %v (mode %v, enforced %v); want %s enforced", i, r["decision"], r["mode"], r["enforced_decision"], decision)
	}
	if decision == "deny" && r["reason"] != reason {
		t.Errorf("mix[%d]: record reason %v; want %q as sent", i, r["reason"], reason)
	}
	if r["bundle_revision"] != revision || r["decision_id"] == "" {
		t.Errorf("mix[%d]: record revision %v, id %v; want %s and an id", i, r["bundle_revision"], r["decision_id"], revision)
	}
	if r["method"] == "tools/call" {
		if !strings.HasPrefix(r["tool"].(string), "issues/") || r["arguments"] != nil {
			t.Errorf("mix[%d]: tools/call record tool %v, arguments %v; want a canonical id and no arguments", i, r["tool"], r["arguments"])
		}
		if erased, _ := r["erased"].([]any); len(erased) != 1 || erased[0] != "/arguments" {
			t.Errorf("mix[%d]: erased %v; want [/arguments]", i, r["erased"])
		}
	}
}

// maskedBundle copies policies/ into a directory whose data holds the
// decision log's masking rules.
func maskedBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "../../policies", dir)
	var data map[string]map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["mcp"]["decision_log"] = map[string]any{"arguments": map[string]any{
		"issues/search_issues": []any{map[string]any{"op": "upsert", "path": "/arguments/query", "value": "***"}},
		"issues/create_issue":  []any{"/arguments/body"},
	}}
	b, _ = json.Marshal(data)
	if err := os.WriteFile(filepath.Join(dir, "data.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDecisionLogMaskedArguments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	extra := "  mask_arguments: true\nbundle:\n  path: " + maskedBundle(t) + "\n"
	a, client := startAppYAML(t, logConfig(path, extra))
	tok := "Bearer " + mintAccess(t, nil)
	calls := map[string]string{
		"search": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_issues","arguments":{"query":"secret-q","limit":5}}}`,
		"create": `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_issue","arguments":{"repo":"acme/api","title":"t1","body":"secret-body"}}}`,
		"get":    `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_issue","arguments":{"repo":"acme/api","number":1,"note":"secret-get"}}}`,
	}
	for name, body := range calls {
		mustCheck(t, client, mcpPost{authorization: tok, body: body, headers: map[string]string{"x-request-id": name}}.request())
	}
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "secret-") {
		t.Errorf("decision log holds a masked argument value:\n%s", raw)
	}
	recs := byRequestID(t, readRecords(t, path))
	for _, tc := range []struct {
		id, key string
		want    any
		erased  string
	}{
		{"search", "query", "***", ""},
		{"search", "limit", 5.0, ""},
		{"create", "title", "t1", "/arguments/body"},
		{"get", "", nil, "/arguments"}, // no rules for this tool: erased whole
	} {
		r := recs[tc.id]
		args, _ := r["arguments"].(map[string]any)
		if tc.key != "" && args[tc.key] != tc.want {
			t.Errorf("%s: arguments.%s = %v; want %v (record %v)", tc.id, tc.key, args[tc.key], tc.want, r)
		}
		if erased, _ := r["erased"].([]any); tc.erased != "" && (len(erased) != 1 || erased[0] != tc.erased) {
			t.Errorf("%s: erased %v; want [%s]", tc.id, erased, tc.erased)
		}
	}
}

// collector is an OPA-compatible decision-log collector: it decodes the
// gzip JSON array of events of every upload.
type collector struct {
	mu      sync.Mutex
	events  []map[string]any
	hold    chan struct{} // when set, uploads wait for it to close
	entered chan struct{} // when set, signalled as an upload starts waiting
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.hold != nil {
		if c.entered != nil {
			select {
			case c.entered <- struct{}{}:
			default:
			}
		}
		<-c.hold
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil || r.Header.Get("Content-Encoding") != "gzip" {
		http.Error(w, "want gzip", http.StatusBadRequest)
		return
	}
	b, err := io.ReadAll(zr)
	var events []map[string]any
	if err == nil {
		err = json.Unmarshal(b, &events)
	}
	if err != nil {
		http.Error(w, "want a JSON array", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.events = append(c.events, events...)
	c.mu.Unlock()
}

func TestDecisionLogHTTPSink(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	a, client := startAppYAML(t, testConfig+"decision_log:\n  output: http\n  url: "+srv.URL+"/logs\n")
	reqs, _ := runMix(t, client)
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.events) != len(reqs) {
		t.Fatalf("collector decoded %d events; want %d", len(col.events), len(reqs))
	}
	want := mixExpect(t)
	got := map[string]bool{}
	for _, ev := range col.events {
		input, _ := ev["input"].(map[string]any)
		result, _ := ev["result"].(map[string]any)
		bundles, _ := ev["bundles"].(map[string]any)
		if ev["decision_id"] == "" || ev["path"] != "mcp/authz/decision" || bundles["mcp-authz"] == nil || result == nil {
			t.Errorf("event %v: want decision_id, path, bundles and result", ev)
		}
		got[input["request_id"].(string)] = result["allow"] == true
	}
	for i, req := range reqs {
		id := req.GetAttributes().GetRequest().GetHttp().GetHeaders()["x-request-id"]
		if got[id] != (want[i] == "allow") {
			t.Errorf("mix[%d]: event allow %v; want %s", i, got[id], want[i])
		}
	}
}

// TestDecisionLogBufferFullDropsCounted: with the collector holding an
// upload and a buffer of one record, every further record but one is
// dropped and counted, and Check never waits for the sink. The writer is
// parked in the held upload before the rest of the mix is sent, so the
// count does not depend on how many records the writer batched before it
// blocked (scheduling).
func TestDecisionLogBufferFullDropsCounted(t *testing.T) {
	col := &collector{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
	srv := httptest.NewServer(col)
	defer srv.Close()
	cfg := testConfig + "decision_log:\n  output: http\n  url: " + srv.URL + "\n  buffer_records: 1\n"
	a, client := startAppYAML(t, cfg)
	reqs := loadMix(t, "testdata/mcp-mix.json")
	resps := []*authv3.CheckResponse{mustCheck(t, client, reqs[0])}
	select { // the writer took the first record alone and waits in the sink
	case <-col.entered:
	case <-time.After(eventualBound):
		t.Fatal("the decision log never uploaded the first record")
	}
	for _, req := range reqs[1:] { // one fills the buffer, the rest are dropped
		resps = append(resps, mustCheck(t, client, req))
	}
	for i, resp := range resps {
		if resp.GetStatus() == nil {
			t.Errorf("mix[%d]: no status", i)
		}
	}
	metrics := scrape(t, a.Addr("admin"))
	close(col.hold)
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	dropped := metricValue(t, metrics, "mcp_authz_decision_log_dropped_total")
	if want := float64(len(reqs) - 2); dropped != want {
		t.Errorf("mcp_authz_decision_log_dropped_total = %v with the sink parked and a buffer of 1; want %v", dropped, want)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if n := float64(len(col.events)); n+dropped != float64(len(reqs)) {
		t.Errorf("collector got %v events and %v were dropped; want %d in all", n, dropped, len(reqs))
	}
}

// scrape returns the admin listener's /metrics text.
func scrape(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metricValue returns the sum of every sample of name in a /metrics text.
func metricValue(t *testing.T, text, name string) float64 {
	t.Helper()
	var sum float64
	found := false
	for _, line := range strings.Split(text, "\n") {
		exact := strings.Contains(name, "{") || (len(line) > len(name) && (line[len(name)] == ' ' || line[len(name)] == '{'))
		if !strings.HasPrefix(line, name) || !exact {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		t.Fatalf("/metrics has no %s", name)
	}
	return sum
}

// tokenSubject reads the sub of the request's token without verifying it
// (the test compares it with what the verifier logged).
func tokenSubject(req *authv3.CheckRequest) string {
	a := req.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"]
	parts := strings.Split(strings.TrimPrefix(a, "Bearer "), ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}
