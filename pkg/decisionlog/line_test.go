package decisionlog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// referenceLine is the line format as protojson defines it: the reference
// appendLine is held to.
var referenceLine = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// jsonTokens is b's token stream (keys, values, delimiters in order;
// numbers as their text), so protojson's random whitespace does not count.
func jsonTokens(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("line %s is not JSON: %v", b, err)
		}
		out = append(out, fmt.Sprintf("%T %#v", tok, tok))
	}
}

// compact strips insignificant whitespace and keeps every escape as
// written, so two outputs compare byte for byte.
func compact(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("line %s is not JSON: %v", b, err)
	}
	return buf.String()
}

// requireSameLine checks appendLine against protojson on r: both fail or
// both write the same tokens, and the same bytes once compacted.
func requireSameLine(t testing.TB, r *mcpauthzv1.DecisionRecord) {
	t.Helper()
	want, wantErr := referenceLine.Marshal(r)
	prefix := []byte("kept:")
	got, gotErr := appendLine(slices.Clone(prefix), r)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("appendLine error %v; protojson error %v", gotErr, wantErr)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("appendLine = %q; want it appended to %q", got, prefix)
	}
	got = got[len(prefix):]
	if gotErr != nil {
		if len(got) != 0 {
			t.Fatalf("appendLine failed (%v) but appended %q", gotErr, got)
		}
		return
	}
	if diff := cmp.Diff(jsonTokens(t, want), jsonTokens(t, got)); diff != "" {
		t.Fatalf("appendLine tokens differ from protojson (-protojson +appendLine):\n%s", diff)
	}
	if w, g := compact(t, want), compact(t, got); w != g {
		t.Fatalf("appendLine = %s\nprotojson  = %s", g, w)
	}
}

// fullRecord sets every field of DecisionRecord and of a RateLimitStatus.
func fullRecord() *mcpauthzv1.DecisionRecord {
	args, _ := structpb.NewStruct(map[string]any{"q": "x", "n": 1.5, "l": []any{true, nil}, "o": map[string]any{}})
	return &mcpauthzv1.DecisionRecord{
		DecisionId: "d", Timestamp: &timestamppb.Timestamp{Seconds: 1767225600, Nanos: 5e6}, RequestId: "req",
		TraceId: "t", SpanId: "s", Subject: "alice", Issuer: "https://iss", ClientId: "c", WorkloadPrincipal: "spiffe://w",
		Resource: "https://r", Server: "issues", McpRevision: "2025-06-18", HttpMethod: "POST", Method: "tools/call",
		Tool: "issues/x", ManifestHash: "sha256:ab", Arguments: args, Erased: []string{"/arguments/a"},
		Masked: []string{"/arguments/b"}, Decision: "deny", Reason: "rate_limited", HttpStatus: 429, JsonrpcCode: -32000,
		BundleRevision: "rev", Mode: "shadow", EnforcedDecision: "allow", LatencyNs: 1234,
		StageLatencyNs: map[string]int64{"view": 1, "parse": 2, "policy": 3},
		RateLimits: []*mcpauthzv1.RateLimitStatus{{Name: "n", Kind: "rate", Key: "tenant=acme", Allowed: true, Cost: 1,
			Quota: 10, WindowSeconds: 60, Remaining: 9, ResetAt: &timestamppb.Timestamp{Seconds: 1}, RetryAfterMs: 7}},
		RateLimitBackend: "local",
	}
}

// TestLineCoversEveryField fails when the proto gains a field appendLine
// does not write: every field of the descriptors, and nothing else, is a
// key of a fully populated record's line.
func TestLineCoversEveryField(t *testing.T) {
	line, err := appendLine(nil, fullRecord())
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil {
		t.Fatal(err)
	}
	var limits []map[string]json.RawMessage
	if err := json.Unmarshal(top["rate_limits"], &limits); err != nil || len(limits) != 1 {
		t.Fatalf("rate_limits %s: want one entry (%v)", top["rate_limits"], err)
	}
	for _, tc := range []struct {
		desc protoreflect.MessageDescriptor
		keys map[string]json.RawMessage
	}{
		{(&mcpauthzv1.DecisionRecord{}).ProtoReflect().Descriptor(), top},
		{(&mcpauthzv1.RateLimitStatus{}).ProtoReflect().Descriptor(), limits[0]},
	} {
		fds := tc.desc.Fields()
		var want []string
		for i := range fds.Len() {
			want = append(want, fds.Get(i).TextName())
		}
		var got []string
		for k := range tc.keys {
			got = append(got, k)
		}
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: line keys differ from the descriptor's fields (-descriptor +line):\n%s", tc.desc.FullName(), diff)
		}
	}
}

// TestLineMatchesProtojsonTestRecords covers the records the package's
// other tests build, and the records the logger builds from the masking
// corpus (testdata/mask_cases.json), arguments included.
func TestLineMatchesProtojsonTestRecords(t *testing.T) {
	recs := []*mcpauthzv1.DecisionRecord{record("first"), record("tool_not_allowed"), fullRecord()}
	http := record("tool_not_allowed")
	http.DecisionId, http.BundleRevision = "d-1", "rev-7"
	recs = append(recs, http)
	b, err := os.ReadFile("testdata/mask_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []maskCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	l := &Logger{opts: Options{LogArguments: true}}
	for _, tc := range cases {
		rules, err := ParseMaskRules(tc.Rules)
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		recs = append(recs, l.finish(Event{Record: record("allowed"), Arguments: tc.Args, Rules: rules}))
	}
	for i, r := range recs {
		t.Run(fmt.Sprint(i), func(t *testing.T) { requireSameLine(t, r) })
	}
}

// TestLineMatchesProtojson covers the edges of every field kind.
func TestLineMatchesProtojson(t *testing.T) {
	for _, tc := range lineCases() {
		t.Run(tc.name, func(t *testing.T) {
			requireSameLine(t, tc.rec)
			if _, err := appendLine(nil, tc.rec); (err != nil) != tc.wantErr {
				t.Errorf("appendLine error %v; want an error: %v", err, tc.wantErr)
			}
		})
	}
}

type lineCase struct {
	name    string
	rec     *mcpauthzv1.DecisionRecord
	wantErr bool
}

// lineCases are the table cases: strings, integers, timestamps, Structs,
// rate limits and maps.
func lineCases() []lineCase {
	var out []lineCase
	out = append(out, stringCases()...)
	out = append(out, numberCases()...)
	out = append(out, timestampCases()...)
	out = append(out, structCases()...)
	return append(out, collectionCases()...)
}

func stringCases() []lineCase {
	var controls strings.Builder
	for c := range 0x20 {
		controls.WriteByte(byte(c))
	}
	bad := "a\xffb"
	return []lineCase{
		{name: "nil record", rec: nil},
		{name: "empty record", rec: &mcpauthzv1.DecisionRecord{}},
		{name: "every field", rec: fullRecord()},
		{name: "unicode", rec: &mcpauthzv1.DecisionRecord{Subject: "héllo ☃ 𝄞 日本", Tool: "\ufffd literal", Reason: "\u2028\u2029"}},
		{name: "html and DEL", rec: &mcpauthzv1.DecisionRecord{RequestId: "<script>&'\x7f", Method: `"quoted" \back\slash/`}},
		{name: "control characters", rec: &mcpauthzv1.DecisionRecord{RequestId: controls.String(), Erased: []string{"\x00", "\t\n"}}},
		{name: "invalid UTF-8 field", rec: &mcpauthzv1.DecisionRecord{RequestId: bad}, wantErr: true},
		{name: "truncated rune", rec: &mcpauthzv1.DecisionRecord{Subject: "\xe2\x82"}, wantErr: true},
		{name: "surrogate half", rec: &mcpauthzv1.DecisionRecord{Subject: "\xed\xa0\x80"}, wantErr: true},
		{name: "invalid UTF-8 list", rec: &mcpauthzv1.DecisionRecord{Erased: []string{"ok", bad}}, wantErr: true},
		{name: "invalid UTF-8 map key", rec: &mcpauthzv1.DecisionRecord{StageLatencyNs: map[string]int64{bad: 1}}, wantErr: true},
		{name: "invalid UTF-8 limit", rec: &mcpauthzv1.DecisionRecord{RateLimits: []*mcpauthzv1.RateLimitStatus{{Key: bad}}}, wantErr: true},
		{name: "invalid UTF-8 last field", rec: &mcpauthzv1.DecisionRecord{RateLimitBackend: bad}, wantErr: true},
	}
}

func numberCases() []lineCase {
	return []lineCase{
		{name: "int64 max", rec: &mcpauthzv1.DecisionRecord{LatencyNs: math.MaxInt64, StageLatencyNs: map[string]int64{"a": math.MinInt64}}},
		{name: "negative", rec: &mcpauthzv1.DecisionRecord{HttpStatus: math.MinInt32, JsonrpcCode: -32700, LatencyNs: -1}},
		{name: "int32 max", rec: &mcpauthzv1.DecisionRecord{HttpStatus: math.MaxInt32}},
		{name: "limit numbers", rec: &mcpauthzv1.DecisionRecord{RateLimits: []*mcpauthzv1.RateLimitStatus{
			{Cost: math.MaxInt64, Quota: math.MinInt64, WindowSeconds: -1, Remaining: 0, RetryAfterMs: 1 << 53},
		}}},
	}
}

func timestampCases() []lineCase {
	ts := func(s int64, n int32) *mcpauthzv1.DecisionRecord {
		return &mcpauthzv1.DecisionRecord{Timestamp: &timestamppb.Timestamp{Seconds: s, Nanos: n}}
	}
	out := []lineCase{
		{name: "epoch", rec: ts(0, 0)},
		{name: "before epoch", rec: ts(-1, 999999999)},
		{name: "min", rec: ts(minTimestampSeconds, 0)},
		{name: "max", rec: ts(maxTimestampSeconds, maxTimestampNanos)},
		{name: "seconds below range", rec: ts(minTimestampSeconds-1, 0), wantErr: true},
		{name: "seconds above range", rec: ts(maxTimestampSeconds+1, 0), wantErr: true},
		{name: "negative nanos", rec: ts(0, -1), wantErr: true},
		{name: "nanos a second", rec: ts(0, 1e9), wantErr: true},
		{name: "reset_at out of range", rec: &mcpauthzv1.DecisionRecord{RateLimits: []*mcpauthzv1.RateLimitStatus{
			{ResetAt: &timestamppb.Timestamp{Nanos: -5}}}}, wantErr: true},
	}
	for _, n := range []int32{1, 10, 999, 1000, 1e6, 5e6, 123e6, 120e6, 123456e3, 123456789, 100000001, 999999999} {
		out = append(out, lineCase{name: fmt.Sprintf("nanos %d", n), rec: ts(1767225600, n)})
	}
	return out
}

func structCases() []lineCase {
	args := func(fields map[string]*structpb.Value) *mcpauthzv1.DecisionRecord {
		return &mcpauthzv1.DecisionRecord{Arguments: &structpb.Struct{Fields: fields}}
	}
	nums := map[string]*structpb.Value{}
	for i, f := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e20, 1e21, 123456789012345678, 1e-6, 1e-7, 5e-324,
		math.MaxFloat64, -math.SmallestNonzeroFloat64, 0.1, 1.0 / 3, 2.5e-8, 1e100} {
		nums[fmt.Sprintf("n%02d", i)] = structpb.NewNumberValue(f)
	}
	nested := map[string]*structpb.Value{
		"list": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{
			structpb.NewNullValue(), structpb.NewBoolValue(false), structpb.NewStringValue("s\n"),
			structpb.NewListValue(&structpb.ListValue{}), structpb.NewStructValue(&structpb.Struct{})}}),
		"obj":  structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"z": structpb.NewBoolValue(true), "a": structpb.NewNullValue()}}),
		"":     structpb.NewStringValue("empty key"),
		"ü\"k": structpb.NewNumberValue(3),
	}
	return []lineCase{
		{name: "empty arguments", rec: args(nil)},
		{name: "numbers", rec: args(nums)},
		{name: "nested", rec: args(nested)},
		{name: "nil struct and list kinds", rec: args(map[string]*structpb.Value{
			"s": {Kind: &structpb.Value_StructValue{}}, "l": {Kind: &structpb.Value_ListValue{}}})},
		{name: "NaN", rec: args(map[string]*structpb.Value{"x": structpb.NewNumberValue(math.NaN())}), wantErr: true},
		{name: "infinity", rec: args(map[string]*structpb.Value{"x": structpb.NewNumberValue(math.Inf(-1))}), wantErr: true},
		{name: "no kind", rec: args(map[string]*structpb.Value{"x": {}}), wantErr: true},
		{name: "no kind in a list", rec: args(map[string]*structpb.Value{"x": structpb.NewListValue(
			&structpb.ListValue{Values: []*structpb.Value{{}}})}), wantErr: true},
		{name: "invalid UTF-8 key", rec: args(map[string]*structpb.Value{"\xff": structpb.NewNullValue()}), wantErr: true},
		{name: "invalid UTF-8 value", rec: args(map[string]*structpb.Value{"k": structpb.NewStringValue("\xc0")}), wantErr: true},
	}
}

func collectionCases() []lineCase {
	many := map[string]int64{}
	for i := range 40 {
		many[fmt.Sprintf("stage-%d", (i*7919)%97)] = int64(i) * 1e9
	}
	many["Z"], many["a"], many[""], many["é"] = 1, 2, 3, 4
	limits := []*mcpauthzv1.RateLimitStatus{
		{Name: "tenant_budget", Kind: "budget", Key: "tenant=acme", Allowed: false, ResetAt: timestamppb.New(timestamppb.Now().AsTime())},
		{Name: "user_rate", Kind: "rate", Key: "user=https://iss alice&tool=issues/run_query", Allowed: true, Cost: 1},
		{},
		{Name: "third", RetryAfterMs: 1500, ResetAt: &timestamppb.Timestamp{Seconds: 1, Nanos: 1}},
	}
	return []lineCase{
		{name: "many stage keys", rec: &mcpauthzv1.DecisionRecord{StageLatencyNs: many}},
		{name: "empty collections", rec: &mcpauthzv1.DecisionRecord{Erased: []string{}, StageLatencyNs: map[string]int64{},
			RateLimits: []*mcpauthzv1.RateLimitStatus{}}},
		{name: "several rate limits", rec: &mcpauthzv1.DecisionRecord{RateLimits: limits, RateLimitBackend: "local_fallback"}},
		{name: "empty strings in lists", rec: &mcpauthzv1.DecisionRecord{Erased: []string{"", ""}, Masked: []string{""}}},
	}
}

// fuzzInput hands out fuzz bytes; past the end it yields zeros. A wild
// input (one in four) may hold invalid UTF-8 and out-of-range timestamps,
// where both encoders must fail; the others stay valid, so most fuzzed
// records compare whole lines rather than errors.
type fuzzInput struct {
	b    []byte
	wild bool
}

func newFuzzInput(data []byte) *fuzzInput {
	in := &fuzzInput{b: data}
	in.wild = in.byte()%4 == 0
	return in
}

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) uint64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = in.byte()
	}
	return binary.LittleEndian.Uint64(buf[:])
}

// str is up to 23 raw bytes, made valid UTF-8 unless the input is wild
// (then one string in eight keeps its bytes as they are).
func (in *fuzzInput) str() string {
	n := int(in.byte() % 24)
	s := make([]byte, 0, n)
	for range n {
		s = append(s, in.byte())
	}
	if in.wild && in.byte()%8 == 0 {
		return string(s)
	}
	return strings.ToValidUTF8(string(s), "\ufffd")
}

// fillMessage sets a fuzz-chosen subset of m's fields, walking the
// descriptor so a field added to the proto is fuzzed without a change.
func fillMessage(in *fuzzInput, m protoreflect.Message) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if in.byte()%4 == 0 {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range in.byte() % 6 {
				mp.Set(protoreflect.ValueOfString(in.str()).MapKey(), fuzzScalar(in, fd.MapValue()))
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range in.byte() % 4 {
				if fd.Message() != nil {
					fillField(in, l.AppendMutable().Message())
				} else {
					l.Append(fuzzScalar(in, fd))
				}
			}
		case fd.Message() != nil:
			fillField(in, m.Mutable(fd).Message())
		default:
			m.Set(fd, fuzzScalar(in, fd))
		}
	}
}

// fillField fills a message field: the well-known types by hand (their
// JSON forms are special), any other message field by field.
func fillField(in *fuzzInput, m protoreflect.Message) {
	switch v := m.Interface().(type) {
	case *timestamppb.Timestamp:
		v.Seconds, v.Nanos = fuzzTimestamp(in)
	case *structpb.Struct:
		v.Fields = fuzzStruct(in, 0).GetFields()
	default:
		fillMessage(in, m)
	}
}

// fuzzTimestamp is in range unless the input is wild (then one in four
// is raw bits).
func fuzzTimestamp(in *fuzzInput) (int64, int32) {
	u := in.uint64()
	if in.wild && in.byte()%4 == 0 {
		return int64(u), int32(u >> 17)
	}
	secs := minTimestampSeconds + int64(u%uint64(maxTimestampSeconds-minTimestampSeconds+1))
	nanos := int32(in.uint64() % 1e9)
	switch in.byte() % 4 {
	case 0:
		nanos = 0
	case 1:
		nanos -= nanos % 1e6
	case 2:
		nanos -= nanos % 1e3
	}
	return secs, nanos
}

func fuzzStruct(in *fuzzInput, depth int) *structpb.Struct {
	s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for range in.byte() % 5 {
		s.Fields[in.str()] = fuzzValue(in, depth+1)
	}
	return s
}

// fuzzValue draws every kind a Value holds, and numbers from raw bits
// (NaN and infinities included) or small integers.
func fuzzValue(in *fuzzInput, depth int) *structpb.Value {
	switch k := in.byte() % 8; {
	case k == 0:
		return structpb.NewNullValue()
	case k == 1:
		return structpb.NewBoolValue(in.byte()%2 == 0)
	case k == 2:
		return structpb.NewNumberValue(math.Float64frombits(in.uint64()))
	case k == 3:
		return structpb.NewNumberValue(float64(int8(in.byte())))
	case k == 4 && depth < 4:
		return structpb.NewStructValue(fuzzStruct(in, depth))
	case k == 5 && depth < 4:
		l := &structpb.ListValue{}
		for range in.byte() % 4 {
			l.Values = append(l.Values, fuzzValue(in, depth+1))
		}
		return structpb.NewListValue(l)
	}
	return structpb.NewStringValue(in.str())
}

func fuzzScalar(in *fuzzInput, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(in.str())
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(in.byte()%2 == 1)
	case protoreflect.Int32Kind:
		return protoreflect.ValueOfInt32(int32(in.uint64()))
	case protoreflect.Int64Kind:
		return protoreflect.ValueOfInt64(int64(in.uint64()))
	}
	panic(fmt.Sprintf("fuzzScalar: field %s has kind %v; teach the fuzzer (and appendLine) about it", fd.FullName(), fd.Kind()))
}

// FuzzLineMatchesProtojson fills a record from fuzz bytes and requires
// appendLine to write what protojson writes, or to fail where it fails.
func FuzzLineMatchesProtojson(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{1}, 64))
	f.Add(bytes.Repeat([]byte{0xff, 7, 3, 'a', 0x80, 2}, 80))
	f.Add([]byte("\x05\x05hello\x01\x09\x0aworld\xe2\x80\xa8\x02\x02\x06\x04\x08\x00"))
	if b, err := proto.Marshal(fullRecord()); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &mcpauthzv1.DecisionRecord{}
		fillMessage(newFuzzInput(data), r.ProtoReflect())
		requireSameLine(t, r)
	})
}

// BenchmarkMarshalLine compares protojson with appendLine on a typical
// record (a tools/call allowed after the limit stage, arguments erased).
func BenchmarkMarshalLine(b *testing.B) {
	r := fullRecord()
	r.Arguments, r.Masked = nil, nil
	r.Erased = []string{ArgumentsPointer}
	r.DecisionId = "6f1c2f0e-3b7a-4d55-9a43-2f9b8f1e2d11"
	r.StageLatencyNs = map[string]int64{"view": 1200, "parse": 8000, "verify": 15000, "policy": 90000, "response": 2100}
	b.Run("protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if line, err := referenceLine.Marshal(r); err != nil || len(line) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, lineBufBytes)
		for b.Loop() {
			line, err := appendLine(buf[:0], r)
			if err != nil || len(line) == 0 {
				b.Fatal(err)
			}
			buf = line
		}
	})
}
