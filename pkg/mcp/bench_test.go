package mcp

import (
	"sort"
	"strconv"
	"testing"
)

func TestBenchBodiesParse(t *testing.T) {
	for name, body := range benchBodies(t) {
		t.Run(name, func(t *testing.T) {
			msg, err := Parse(body, testLimits)
			if err != nil {
				t.Fatalf("Parse(%s) = %v; want success", name, err)
			}
			agree(t, body, msg)
		})
	}
}

func BenchmarkParse(b *testing.B) {
	bodies := benchBodies(b)
	for i, body := range postBodies(b) {
		bodies["sdk-ts-"+strconv.Itoa(i)] = body
	}
	names := make([]string, 0, len(bodies))
	for name := range bodies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := bodies[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if msg, err := Parse(body, testLimits); err != nil || msg == nil {
					b.Fatalf("Parse(%s) = %v", name, err)
				}
			}
		})
	}
}

func BenchmarkCheckHeaders(b *testing.B) {
	msg := req2026("tools/call", "Hello, 世界")
	h := hdrs{HeaderProtocolVersion: {"2026-07-28"}, HeaderMethod: {"tools/call"}, HeaderName: {"=?base64?SGVsbG8sIOS4lueVjA==?="}}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckHeaders(Rev20260728, msg, h); err != nil {
			b.Fatalf("CheckHeaders = %v", err)
		}
	}
}
