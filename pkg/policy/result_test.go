package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestIsJSONNumber(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0", true}, {"-0", true}, {"7", true}, {"-12", true}, {"1.5", true}, {"1e9", true},
		{"1E+9", true}, {"2.5e-3", true}, {"12345678901234567890", true},
		{"", false}, {"-", false}, {"01", false}, {"1.", false}, {".5", false}, {"1e", false},
		{"1e+-1", false}, {"+1", false}, {"1 ", false}, {" 1", false}, {"0x1", false}, {"NaN", false},
		{"1.5.5", false}, {`"1"`, false},
	}
	for _, tc := range tests {
		if got := isJSONNumber(tc.in); got != tc.want {
			t.Errorf("isJSONNumber(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestIsReason(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"allowed", true}, {"a", true}, {"tool_not_allowed", true}, {"x9_", true},
		{strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false},
		{"", false}, {"_a", false}, {"9a", false}, {"Allowed", false}, {"a-b", false}, {"a b", false}, {"é", false},
	}
	for _, tc := range tests {
		if got := isReason(tc.in); got != tc.want {
			t.Errorf("isReason(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzDecodeDecision(f *testing.F) {
	for _, seed := range []string{
		`{"allow":true,"reason":"allowed"}`,
		`{"allow":false,"reason":"x","http_status":403,"challenge":{"error":"insufficient_scope","scope":"a b"}}`,
		`{"allow":false,"reason":"x","jsonrpc_error":{"code":-32003,"message":"m"}}`,
		`{"allow":true,"reason":"x","upstream_headers":{"x-a":"b"},"response_headers":{"x-c":"d"}}`,
		`{"allow":true,"reason":"x","dynamic_metadata":{"a":[1,{"b":null}]}}`,
		`{"allow":"true","reason":"x"}`, `[]`, `null`, `{"reason":"x"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var x any
		if json.Unmarshal([]byte(doc), &x) != nil {
			return
		}
		v, err := ast.InterfaceToValue(x)
		if err != nil {
			return
		}
		d, err := decodeDecision(v)
		if err != nil {
			return
		}
		// Success means every invariant the response builder relies on holds.
		if !isReason(d.Reason) {
			t.Errorf("decodeDecision(%s).Reason = %q; want snake_case", doc, d.Reason)
		}
		if d.HTTPStatus != 0 && (d.HTTPStatus < minHTTPStatus || d.HTTPStatus > maxHTTPStatus) {
			t.Errorf("decodeDecision(%s).HTTPStatus = %d; want 0 or 4xx/5xx", doc, d.HTTPStatus)
		}
		for _, hs := range []map[string]string{d.UpstreamHeaders, d.ResponseHeaders} {
			for k, val := range hs {
				if !ValidHeaderName(k) || !ValidHeaderValue(val) {
					t.Errorf("decodeDecision(%s) header %q: %q is unsafe", doc, k, val)
				}
			}
		}
		if c := d.Challenge; c != nil && (!isErrorCode(c.Error) || !isQuotable(c.Description) || !isScope(c.Scope)) {
			t.Errorf("decodeDecision(%s).Challenge = %+v; want RFC 6750 characters", doc, c)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Errorf("json.Marshal(decodeDecision(%s)) = %v", doc, err)
		}
	})
}
