package extauthz

import (
	"testing"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// TestHeaderMapValuesOwnTheirMemory: a header_map value kept past the Check
// (the request id in a rate-limit hold or a queued record) holds only its
// own bytes, never a block shared with the credentials beside it. The values'
// lengths fall in different allocation size classes, so separate
// allocations are never back to back, while slices of one block are.
func TestHeaderMapValuesOwnTheirMemory(t *testing.T) {
	hm := []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer secret-token")},
		{Key: "x-request-id", RawValue: []byte("0f7c1a2e")},
		{Key: "dpop", RawValue: []byte("eyJhbGciOiJFUzI1NiJ9.proof-bytes")},
		{Key: "cookie", RawValue: []byte("session=1")},
	}
	l := headerMapOf(hm)
	type span struct{ lo, hi uintptr }
	spans := make([]span, len(l.values))
	for i, v := range l.values {
		p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
		spans[i] = span{p, p + uintptr(len(v))}
	}
	for i := range spans {
		for j := range spans {
			if i != j && (spans[i].hi == spans[j].lo || spans[i].lo < spans[j].hi && spans[j].lo < spans[i].hi) {
				t.Fatalf("values %q and %q share memory", l.values[i], l.values[j])
			}
		}
	}
	for i, hv := range hm { // and none aliases the request's own bytes
		raw := uintptr(unsafe.Pointer(unsafe.SliceData(hv.RawValue)))
		for _, s := range spans {
			if s.lo == raw {
				t.Fatalf("value of %s aliases the CheckRequest's bytes", hm[i].Key)
			}
		}
	}
}
