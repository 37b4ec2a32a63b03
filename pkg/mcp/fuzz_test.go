package mcp

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits bound the fuzzer's inputs.
var fuzzLimits = Limits{MaxBytes: 64 << 10, MaxDepth: 32}

// FuzzParse is a differential fuzz target: whenever Parse accepts a body,
// encoding/json (lenient, last-wins; once into maps, case-sensitive, as the
// MCP SDKs read; once into structs, case-insensitive, as Go servers using
// encoding/json read) must see the same method, name, arguments and id,
// and the id must be one the SDKs' RequestId accepts (a string or an
// integer within ±(2^63-1); sdkRequestID is the independent oracle).
// ParseString must return what Parse returns. Whenever Parse refuses one,
// the error must be a well-formed *Error whose echoed id, if any, is such an
// id too.
func FuzzParse(f *testing.F) {
	for _, tc := range allParseCases() {
		f.Add([]byte(tc.body))
	}
	for _, body := range postBodies(f) {
		f.Add(body)
	}
	for _, body := range benchBodies(f) {
		f.Add(body)
	}
	for _, id := range idSeeds {
		f.Add([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`))
		f.Add([]byte(`{"jsonrpc":"2.0","id":` + id + `,"error":{"code":1,"message":"m"},"x":1}`))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsParse(t, body, fuzzLimits)
		msg, err := Parse(body, fuzzLimits)
		if err != nil {
			checkError(t, body, err)
			return
		}
		agree(t, body, msg)
	})
}

// idSeeds are id literals around the accepted shapes' edges.
var idSeeds = []string{
	"0", "-0", "7", "9223372036854775807", "-9223372036854775807", "9223372036854775808",
	"-9223372036854775808", "18446744073709551616", "1.5", "1.0", "-0.0", "1e3", "1E3", "1e+3", "1e-3",
	"1e400", "0e0", `"1.5"`, `"x"`, "true", "null", "[1]", "{}",
}

// benchBodies returns the bodies in testdata/bench.
func benchBodies(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "bench", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("glob testdata/bench: %v (%d files)", err, len(paths))
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}
