package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"
)

// BenchmarkCheckDistinctTokens: the same allowed tools/call with a
// different token (its own subject and jti) on every request, against the
// same token every time. The token and decision caches are kept smaller
// than the 256 tokens cycled, so every distinct-token Check misses both:
// it verifies a signature and evaluates the policy. The target: the
// difference is about one signature verification (BenchmarkVerify) and
// memory stays bounded (both caches are).
func BenchmarkCheckDistinctTokens(b *testing.B) {
	yaml := strings.Replace(testConfig, "policy:\n", "identity:\n  cache_size: 16\npolicy:\n  decision_cache: {size: 16}\n", 1)
	base := loadMix(b, "testdata/mcp-mix.json")[3] // alice: tools/call search_issues, allowed
	distinct := make([]*authv3.CheckRequest, 256)
	for i := range distinct {
		tok := mintAccess(b, map[string]any{"sub": fmt.Sprintf("user-%04d", i), "jti": fmt.Sprintf("jti-%04d", i)})
		distinct[i] = withToken(base, tok)
	}
	same := []*authv3.CheckRequest{withToken(base, mintAccess(b, map[string]any{"sub": "user-same", "jti": "jti-same"}))}
	b.Run("same-token", func(b *testing.B) { benchChecks(b, yaml, same) })
	b.Run("distinct-token", func(b *testing.B) { benchChecks(b, yaml, distinct) })
}

// BenchmarkCheckBodySize: an allowed tools/call (comment_issue) whose
// text argument makes the body 1 KiB to 64 KiB (the tool's maxLength), then
// 256 KiB and 1,000 KiB (up to limits.body_bytes; denied invalid_arguments
// after the same parse and schema validation). The target: cost
// linear in the body size (compare ns/op per KiB).
func BenchmarkCheckBodySize(b *testing.B) {
	base := loadMix(b, "testdata/mcp-mix.json")[15] // carol: comment_issue, allowed
	for _, kib := range []int{1, 4, 16, 64, 256, 1000} {
		req := withBodySize(b, base, kib<<10)
		b.Run(fmt.Sprintf("body=%dKiB", kib), func(b *testing.B) {
			b.SetBytes(int64(kib << 10))
			benchChecks(b, testConfig, []*authv3.CheckRequest{req})
		})
	}
}

// withToken is req with the bearer token tok.
func withToken(req *authv3.CheckRequest, tok string) *authv3.CheckRequest {
	c := proto.Clone(req).(*authv3.CheckRequest)
	c.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"] = "Bearer " + tok
	return c
}

// withBodySize is req (a tools/call with a string argument "body") with
// that argument grown so the whole body is size bytes, content-length and
// size moved with it.
func withBodySize(b *testing.B, req *authv3.CheckRequest, size int) *authv3.CheckRequest {
	b.Helper()
	c := proto.Clone(req).(*authv3.CheckRequest)
	h := c.GetAttributes().GetRequest().GetHttp()
	var msg map[string]any
	if err := json.Unmarshal([]byte(h.GetBody()), &msg); err != nil {
		b.Fatal(err)
	}
	args := msg["params"].(map[string]any)["arguments"].(map[string]any)
	args["body"] = ""
	empty, err := json.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	words := strings.Repeat("token rotation fails after refresh ", size/35+1)
	args["body"] = words[:max(size-len(empty), 1)]
	body, err := json.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	h.Body, h.Size = string(body), int64(len(body))
	h.GetHeaders()["content-length"] = strconv.Itoa(len(body))
	return c
}
