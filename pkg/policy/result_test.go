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
		`{"allow":false,"reason":"x","remediation":{"url":"https://a.example/approve?x=1"}}`,
		`{"allow":false,"reason":"x","remediation":{"connection":"github"}}`,
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
		if r := d.Remediation; r != nil && ((r.URL == "") == (r.Connection == "") ||
			(r.URL != "" && checkRemediationURL(r.URL) != nil) || (r.Connection != "" && !connectionName.MatchString(r.Connection))) {
			t.Errorf("decodeDecision(%s).Remediation = %+v; want exactly one valid field", doc, r)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Errorf("json.Marshal(decodeDecision(%s)) = %v", doc, err)
		}
	})
}

func TestDecodeRemediation(t *testing.T) {
	tests := []struct {
		doc     string
		want    *Remediation
		wantErr bool
	}{
		{`{"url":"https://portal.example.test/request-access?tool=x"}`, &Remediation{URL: "https://portal.example.test/request-access?tool=x"}, false},
		{`{"connection":"github"}`, &Remediation{Connection: "github"}, false},
		{`{}`, nil, true},
		{`{"url":"https://a.example","connection":"github"}`, nil, true},
		{`{"url":"http://a.example/x"}`, nil, true},
		{`{"url":"https://user:pw@a.example/x"}`, nil, true},
		{`{"url":"https://a.example/x#frag"}`, nil, true},
		{`{"url":"https://a.example/x y"}`, nil, true},
		{`{"url":"/relative"}`, nil, true},
		{`{"url":"javascript:alert(1)"}`, nil, true},
		{`{"connection":"git hub"}`, nil, true},
		{`{"connection":""}`, nil, true},
		{`{"token":"abc"}`, nil, true},
		{`"https://a.example"`, nil, true},
	}
	for _, tc := range tests {
		var x any
		if err := json.Unmarshal([]byte(tc.doc), &x); err != nil {
			t.Fatal(err)
		}
		v, err := ast.InterfaceToValue(x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := asRemediation(v)
		if (err != nil) != tc.wantErr || (!tc.wantErr && *got != *tc.want) {
			t.Errorf("asRemediation(%s) = %+v, %v; want %+v, error %v", tc.doc, got, err, tc.want, tc.wantErr)
		}
	}
}
