package extauthz

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// The references below are the straightforward forms the allocation-lean
// code replaced; the tests hold the two equal.

// headersOfReference: one slice per header, values copied from raw bytes.
func headersOfReference(h *authv3.AttributeContext_HttpRequest) map[string][]string {
	if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		out := map[string][]string{}
		for _, hv := range hm {
			k := strings.ToLower(hv.GetKey())
			out[k] = append(out[k], headerValue(hv))
		}
		return out
	}
	out := map[string][]string{}
	for k, val := range h.GetHeaders() {
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], val)
	}
	return out
}

// metadataReference: a json.Number-free copy, then structpb.NewStruct.
func metadataReference(m map[string]any) *structpb.Struct {
	if len(m) == 0 {
		return nil
	}
	s, err := structpb.NewStruct(numbersAsFloats(m).(map[string]any))
	if err != nil {
		return nil
	}
	return s
}

func numbersAsFloats(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = numbersAsFloats(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = numbersAsFloats(e)
		}
		return out
	case json.Number:
		f, _ := t.Float64()
		return f
	}
	return v
}

// headerOptionsReference: two allocations per header.
func headerOptionsReference(h map[string]string, action corev3.HeaderValueOption_HeaderAppendAction) []*corev3.HeaderValueOption {
	if len(h) == 0 {
		return nil
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*corev3.HeaderValueOption, 0, len(keys))
	for _, k := range keys {
		out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: h[k]}, AppendAction: action})
	}
	return out
}

// mixRequests are the fixture mix's CheckRequests (test/e2e/testdata).
func mixRequests(t testing.TB) []*authv3.CheckRequest {
	t.Helper()
	b, err := os.ReadFile("../../test/e2e/testdata/mcp-mix.json")
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		t.Fatal(err)
	}
	out := make([]*authv3.CheckRequest, len(raws))
	for i, r := range raws {
		out[i] = &authv3.CheckRequest{}
		if err := protojson.Unmarshal(r, out[i]); err != nil {
			t.Fatalf("mix[%d]: %v", i, err)
		}
	}
	return out
}

// asHeaderMap moves a request's headers into header_map (encode_raw_headers)
// in sorted order, with extra entries appended: repeats, mixed case, a
// value in value rather than raw_value.
func asHeaderMap(req *authv3.CheckRequest, extra ...*corev3.HeaderValue) *authv3.CheckRequest {
	c := proto.Clone(req).(*authv3.CheckRequest)
	h := c.GetAttributes().GetRequest().GetHttp()
	keys := make([]string, 0, len(h.Headers))
	for k := range h.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hm := &corev3.HeaderMap{}
	for _, k := range keys {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(h.Headers[k])})
	}
	hm.Headers = append(hm.Headers, extra...)
	h.Headers, h.HeaderMap = nil, hm
	return c
}

// TestHeadersOfDifferential: over the fixture mix, as the headers map and
// as header_map with repeats, mixed case and empty values, the view's
// headers are exactly the reference's.
func TestHeadersOfDifferential(t *testing.T) {
	extra := []*corev3.HeaderValue{
		{Key: "X-Repeat", RawValue: []byte("1")}, {Key: "x-repeat", RawValue: []byte("2")}, {Key: "X-REPEAT", Value: "3"},
		{Key: "x-empty"}, {Key: "Mcp-Session-Id", RawValue: []byte("s\xff")}, {Key: "x-repeat", RawValue: []byte("4")},
	}
	var many []*corev3.HeaderValue // over smallHeaderCount: the other sort
	for i := range 3 * smallHeaderCount {
		many = append(many, &corev3.HeaderValue{Key: fmt.Sprintf("X-H%d", (97*i)%40), RawValue: []byte(fmt.Sprint(i))})
	}
	for i, req := range mixRequests(t) {
		for _, r := range []*authv3.CheckRequest{req, asHeaderMap(req), asHeaderMap(req, extra...), asHeaderMap(req, many...)} {
			h := r.GetAttributes().GetRequest().GetHttp()
			l, want := headersOf(h), headersOfReference(h)
			got := map[string][]string{}
			for k, vals := range l.all() {
				if got[k] != nil || len(vals) == 0 {
					t.Fatalf("mix[%d]: all() yields %s twice or with no value", i, k)
				}
				got[k] = vals
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("mix[%d]: headersOf = %v; want %v", i, got, want)
			}
			for k, vals := range want {
				if g := l.get(k); !reflect.DeepEqual(g, vals) || !l.has(k) {
					t.Fatalf("mix[%d]: get(%s) = %v; want %v", i, k, g, vals)
				}
				_ = append(l.get(k), "appended") // never into another name's values
			}
			if l.get("x-not-sent") != nil || l.has("x-not-sent") || l.get("") != nil {
				t.Fatalf("mix[%d]: a header not sent has values", i)
			}
			for k, vals := range want {
				if g := l.get(k); !reflect.DeepEqual(g, vals) {
					t.Fatalf("mix[%d]: after appends %s = %v; want %v", i, k, g, vals)
				}
			}
		}
	}
}

// metadataCases are dynamic_metadata values of every shape the decision
// decoder lets through, and some it does not (which must give nil alike).
var metadataCases = []string{
	`{}`, `{"a":1}`, `{"a":{"b":[1,"x",null,true,{"c":-2.5e-3}]},"d":"é"}`, `{"big":1e400,"neg":-1e400,"tiny":1e-400}`,
	`{"l":[],"m":{},"n":[[[]]]}`, `{"s":"\ud800"}`, `{"\ud800":1}`, `{"x":123456789012345678901234567890}`,
}

// TestMetadataDifferential: the one-pass conversion equals structpb.NewStruct
// of the json.Number-free copy, for every case.
func TestMetadataDifferential(t *testing.T) {
	for _, doc := range metadataCases {
		checkMetadata(t, doc)
	}
	typed := map[string]any{"i": 3, "f32": float32(1.5), "b": []byte("x"), "nilmap": map[string]any(nil), "nillist": []any(nil), "bad": make(chan int)}
	for k, v := range typed {
		m := map[string]any{k: v}
		if got, want := metadata(m), metadataReference(m); !proto.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("metadata(%s: %T) = %v; want %v", k, v, got, want)
		}
	}
	for _, m := range []map[string]any{{"\xff": 1}, {"a": "\xff"}, {"a": []any{map[string]any{"\xfe": true}}}} {
		if got := metadata(m); got != nil || metadataReference(m) != nil {
			t.Errorf("metadata(%q) = %v; want nil (invalid UTF-8)", m, got)
		}
	}
}

func checkMetadata(t *testing.T, doc string) {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return
	}
	if got, want := metadata(m), metadataReference(m); !proto.Equal(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("metadata(%s) = %v; want %v", doc, got, want)
	}
}

// FuzzMetadata: any JSON object, numbers as json.Number.
func FuzzMetadata(f *testing.F) {
	for _, doc := range metadataCases {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { checkMetadata(t, doc) })
}

// TestHeaderOptionsDifferential: the same options in the same order.
func TestHeaderOptionsDifferential(t *testing.T) {
	many := map[string]string{}
	for i := range 40 {
		many[strings.Repeat("k", i+1)] = strings.Repeat("v", 40-i)
	}
	for _, h := range []map[string]string{nil, {}, {"a": "1"}, {"b": "2", "a": "1", "c": ""}, many} {
		got := headerOptions(h, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
		want := headerOptionsReference(h, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
		if len(got) != len(want) || (got == nil) != (want == nil) {
			t.Fatalf("headerOptions(%v) = %v; want %v", h, got, want)
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("headerOptions(%v)[%d] = %v; want %v", h, i, got[i], want[i])
			}
		}
	}
}

// TestInputHeadersDifferential: the input's headers are the reference
// headers without pseudo-headers and credentials, repeats joined with ", ".
func TestInputHeadersDifferential(t *testing.T) {
	extra := []*corev3.HeaderValue{{Key: "X-Repeat", RawValue: []byte("1")}, {Key: "x-repeat", RawValue: []byte("2")},
		{Key: "Cookie", RawValue: []byte("c")}, {Key: "dpop", RawValue: []byte("p")}, {Key: "Proxy-Authorization", RawValue: []byte("b")}}
	for i, req := range mixRequests(t) {
		for _, r := range []*authv3.CheckRequest{req, asHeaderMap(req, extra...)} {
			want := map[string]string{}
			for k, vals := range headersOfReference(r.GetAttributes().GetRequest().GetHttp()) {
				if !strings.HasPrefix(k, ":") && !credentialHeaders[k] {
					want[k] = strings.Join(vals, ", ")
				}
			}
			var v view
			v.fill(r)
			if got := inputHeaders(&v); !reflect.DeepEqual(got, want) {
				t.Fatalf("mix[%d]: inputHeaders = %v; want %v", i, got, want)
			}
		}
	}
}

// FuzzHeadersOf: any header lines ("name:value" per line) as header_map
// and as the headers map give the reference's headers, and an append to one
// name's values never reaches another's.
func FuzzHeadersOf(f *testing.F) {
	f.Add("a:1\nA:2\nb:\nc:3")
	f.Add("x-repeat:1\nX-REPEAT:2\n:authority:h\ncontent-type:application/json")
	f.Fuzz(func(t *testing.T, lines string) {
		hm, flat := &corev3.HeaderMap{}, map[string]string{}
		for _, line := range strings.Split(lines, "\n") {
			k, v, _ := strings.Cut(line, ":")
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
			flat[strings.ToLower(k)] = v // Envoy's map: one lower-case key each
		}
		for _, h := range []*authv3.AttributeContext_HttpRequest{{HeaderMap: hm}, {Headers: flat}} {
			l, want := headersOf(h), headersOfReference(h)
			for k := range want {
				_ = append(l.get(k), "appended")
			}
			got := map[string][]string{}
			for k, vals := range l.all() {
				got[k] = vals
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("headersOf(%q) = %v; want %v", lines, got, want)
			}
		}
	})
}
