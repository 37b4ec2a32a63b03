package decisionlog

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"

	"github.com/mcp-authz/mcp-authz/pkg/jsonesc"
)

// The line format's encoder. protojson walks the record by reflection and
// allocated for every string it escaped: under load that was a tenth of
// the server's CPU, spent on one goroutine off the Check path but not off
// the machine. This encoder writes the same JSON by hand into a reused
// buffer: the keys and key order protojson emits with UseProtoNames and
// EmitUnpopulated (field number order, map keys sorted), its escaping, its
// number and timestamp forms, and an error where protojson fails (invalid
// UTF-8, a timestamp out of range, a Struct value that is not JSON).
// line_test.go holds it to protojson field by field, on table cases and
// on fuzzed records, and fails when the proto gains a field this file
// does not write.

// errInvalidUTF8 is the cause of a string protojson would refuse.
var errInvalidUTF8 = errors.New("invalid UTF-8")

// Timestamp bounds protojson accepts: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
	maxTimestampNanos   = 999999999
)

// lineEncoder appends one record; the first error sticks and voids the
// output, so each field's call stays one line in appendLine.
type lineEncoder struct {
	b   []byte
	err error
}

// appendLine appends r in the line format (no newline) to buf. On error
// buf is returned unchanged.
func appendLine(buf []byte, r *mcpauthzv1.DecisionRecord) ([]byte, error) {
	e := lineEncoder{b: append(buf, '{')}
	e.str("decision_id", r.GetDecisionId())
	e.timestamp("timestamp", r.GetTimestamp())
	e.str("request_id", r.GetRequestId())
	e.str("trace_id", r.GetTraceId())
	e.str("span_id", r.GetSpanId())
	e.str("subject", r.GetSubject())
	e.str("issuer", r.GetIssuer())
	e.str("client_id", r.GetClientId())
	e.str("workload_principal", r.GetWorkloadPrincipal())
	e.str("resource", r.GetResource())
	e.str("server", r.GetServer())
	e.str("mcp_revision", r.GetMcpRevision())
	e.str("http_method", r.GetHttpMethod())
	e.str("method", r.GetMethod())
	e.str("tool", r.GetTool())
	e.str("manifest_hash", r.GetManifestHash())
	e.arguments("arguments", r.GetArguments())
	e.strs("erased", r.GetErased())
	e.strs("masked", r.GetMasked())
	e.str("decision", r.GetDecision())
	e.str("reason", r.GetReason())
	e.int32("http_status", r.GetHttpStatus())
	e.int32("jsonrpc_code", r.GetJsonrpcCode())
	e.str("bundle_revision", r.GetBundleRevision())
	e.str("mode", r.GetMode())
	e.str("enforced_decision", r.GetEnforcedDecision())
	e.int64("latency_ns", r.GetLatencyNs())
	e.int64Map("stage_latency_ns", r.GetStageLatencyNs())
	e.rateLimits("rate_limits", r.GetRateLimits())
	e.str("rate_limit_backend", r.GetRateLimitBackend())
	e.b = append(e.b, '}')
	if e.err != nil {
		return buf, e.err
	}
	return e.b, nil
}

// appendRateLimit appends one RateLimitStatus as protojson writes it (a
// nil entry as an empty message, as protojson reflects it).
func (e *lineEncoder) appendRateLimit(l *mcpauthzv1.RateLimitStatus) {
	e.b = append(e.b, '{')
	e.str("name", l.GetName())
	e.str("kind", l.GetKind())
	e.str("key", l.GetKey())
	e.bool("allowed", l.GetAllowed())
	e.int64("cost", l.GetCost())
	e.int64("quota", l.GetQuota())
	e.int64("window_seconds", l.GetWindowSeconds())
	e.int64("remaining", l.GetRemaining())
	e.timestamp("reset_at", l.GetResetAt())
	e.int64("retry_after_ms", l.GetRetryAfterMs())
	e.b = append(e.b, '}')
}

// key writes the separator and a field name; names are proto identifiers
// (ASCII, nothing to escape).
func (e *lineEncoder) key(name string) {
	e.sep()
	e.b = append(e.b, '"')
	e.b = append(e.b, name...)
	e.b = append(e.b, '"', ':')
}

// sep writes the comma before every member or element but the first: a
// value never ends in '{' or '[', so the last byte tells.
func (e *lineEncoder) sep() {
	if c := e.b[len(e.b)-1]; c != '{' && c != '[' {
		e.b = append(e.b, ',')
	}
}

// fail keeps the first error.
func (e *lineEncoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *lineEncoder) str(name, v string) {
	e.key(name)
	e.string(name, v)
}

// string appends v escaped, failing on invalid UTF-8 as protojson does.
func (e *lineEncoder) string(name, v string) {
	var ok bool
	if e.b, ok = appendJSONString(e.b, v); !ok {
		e.fail(fmt.Errorf("field %s: %w", name, errInvalidUTF8))
	}
}

func (e *lineEncoder) strs(name string, vs []string) {
	e.key(name)
	e.b = append(e.b, '[')
	for _, v := range vs {
		e.sep()
		e.string(name, v)
	}
	e.b = append(e.b, ']')
}

func (e *lineEncoder) bool(name string, v bool) {
	e.key(name)
	e.b = strconv.AppendBool(e.b, v)
}

// int32 is a JSON number in protojson.
func (e *lineEncoder) int32(name string, v int32) {
	e.key(name)
	e.b = strconv.AppendInt(e.b, int64(v), 10)
}

// int64 is a quoted decimal in protojson (JSON numbers lose precision
// past 2^53 in most readers).
func (e *lineEncoder) int64(name string, v int64) {
	e.key(name)
	e.b = appendQuotedInt(e.b, v)
}

func appendQuotedInt(b []byte, v int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, v, 10)
	return append(b, '"')
}

// int64Map writes a map<string, int64> with its keys sorted, as protojson
// does; the stage map has a handful of keys, sorted on the stack.
func (e *lineEncoder) int64Map(name string, m map[string]int64) {
	e.key(name)
	e.b = append(e.b, '{')
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.sep()
		e.string(name, k)
		e.b = append(e.b, ':')
		e.b = appendQuotedInt(e.b, m[k])
	}
	e.b = append(e.b, '}')
}

func (e *lineEncoder) rateLimits(name string, ls []*mcpauthzv1.RateLimitStatus) {
	e.key(name)
	e.b = append(e.b, '[')
	for _, l := range ls {
		e.sep()
		e.appendRateLimit(l)
	}
	e.b = append(e.b, ']')
}

// timestamp writes protojson's RFC 3339 form: UTC, "Z", 0, 3, 6 or 9
// fractional digits; null when absent; an error out of range.
func (e *lineEncoder) timestamp(name string, t *timestamppb.Timestamp) {
	e.key(name)
	if t == nil {
		e.b = append(e.b, "null"...)
		return
	}
	secs, nanos := t.GetSeconds(), t.GetNanos()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > maxTimestampNanos {
		e.fail(fmt.Errorf("field %s: timestamp out of range (%d s, %d ns)", name, secs, nanos))
		return
	}
	u := time.Unix(secs, 0).UTC()
	year, month, day := u.Date()
	hour, minute, sec := u.Clock()
	b := append(e.b, '"')
	b = appendDigits(b, year, 4)
	b = appendDigits(append(b, '-'), int(month), 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), hour, 2)
	b = appendDigits(append(b, ':'), minute, 2)
	b = appendDigits(append(b, ':'), sec, 2)
	e.b = append(appendFraction(b, int(nanos)), 'Z', '"')
}

// appendFraction writes nanos with the fewest of 0, 3, 6 or 9 digits that
// hold it exactly, as protojson does.
func appendFraction(b []byte, nanos int) []byte {
	switch {
	case nanos == 0:
		return b
	case nanos%1e6 == 0:
		return appendDigits(append(b, '.'), nanos/1e6, 3)
	case nanos%1e3 == 0:
		return appendDigits(append(b, '.'), nanos/1e3, 6)
	}
	return appendDigits(append(b, '.'), nanos, 9)
}

// appendDigits writes v (non-negative) zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [9]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}

// arguments writes the Struct, null when absent (erased).
func (e *lineEncoder) arguments(name string, s *structpb.Struct) {
	e.key(name)
	if s == nil {
		e.b = append(e.b, "null"...)
		return
	}
	e.structValue(name, s)
}

// structValue writes a Struct as a JSON object, keys sorted.
func (e *lineEncoder) structValue(name string, s *structpb.Struct) {
	fields := s.GetFields()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, '{')
	for _, k := range keys {
		e.sep()
		e.string(name, k)
		e.b = append(e.b, ':')
		e.value(name, fields[k])
	}
	e.b = append(e.b, '}')
}

// value writes a google.protobuf.Value; like protojson it refuses a Value
// with no kind set and a number JSON cannot hold (NaN, ±Inf).
func (e *lineEncoder) value(name string, v *structpb.Value) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		e.b = append(e.b, "null"...)
	case *structpb.Value_BoolValue:
		e.b = strconv.AppendBool(e.b, k.BoolValue)
	case *structpb.Value_StringValue:
		e.string(name, k.StringValue)
	case *structpb.Value_NumberValue:
		if math.IsNaN(k.NumberValue) || math.IsInf(k.NumberValue, 0) {
			e.fail(fmt.Errorf("field %s: invalid number %v", name, k.NumberValue))
			e.b = append(e.b, "null"...)
			return
		}
		e.b = jsonesc.AppendFloat(e.b, k.NumberValue)
	case *structpb.Value_StructValue:
		e.structValue(name, k.StructValue)
	case *structpb.Value_ListValue:
		e.b = append(e.b, '[')
		for _, item := range k.ListValue.GetValues() {
			e.sep()
			e.value(name, item)
		}
		e.b = append(e.b, ']')
	default:
		e.fail(fmt.Errorf("field %s: a Value with no kind set", name))
		e.b = append(e.b, "null"...)
	}
}

// appendJSONString appends s quoted and escaped exactly as protojson
// does: only '"', '\\' and control characters below U+0020 are escaped
// (\b \f \n \r \t, else \u00xx in lower-case hex); HTML characters, DEL,
// U+2028 and U+2029 pass through unescaped. ok is false on invalid UTF-8.
func appendJSONString(b []byte, s string) (out []byte, ok bool) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return b, false
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		b = jsonesc.AppendByte(append(b, s[start:i]...), c)
		i++
		start = i
	}
	return append(append(b, s[start:]...), '"'), true
}
