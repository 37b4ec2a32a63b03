package mcp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sameAsParse requires ParseString(body) to return what Parse returns for
// the same bytes: an equal Message, or an error with the same code, id and
// text.
func sameAsParse(t *testing.T, body []byte, lim Limits) {
	t.Helper()
	want, wantErr := Parse(body, lim)
	got, err := ParseString(string(body), lim)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseString(%.80q) = %+v; Parse = %+v", body, got, want)
	}
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("ParseString(%.80q) error %v; Parse error %v", body, err, wantErr)
	}
	var ge, we *Error
	if errors.As(err, &ge) != errors.As(wantErr, &we) || ge != nil && (ge.Code != we.Code || string(ge.ID) != string(we.ID)) {
		t.Fatalf("ParseString(%.80q) error %#v; Parse error %#v", body, ge, we)
	}
}

// TestParseStringDifferential runs every parse case, captured POST body
// and benchmark body through both entry points, twice over (the second
// pass reuses pooled parsers and their copies), plus bodies over the
// size limit and over the size the pool keeps.
func TestParseStringDifferential(t *testing.T) {
	var bodies [][]byte
	for _, tc := range allParseCases() {
		bodies = append(bodies, []byte(tc.body))
	}
	bodies = append(bodies, postBodies(t)...)
	for _, b := range benchBodies(t) {
		bodies = append(bodies, b)
	}
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":"` + strings.Repeat("x", 80<<10) + `"}}}`
	bodies = append(bodies, []byte(big), []byte(big[:100]))
	for range 2 {
		for _, b := range bodies {
			sameAsParse(t, b, Limits{})
			sameAsParse(t, b, Limits{MaxBytes: 64, MaxDepth: 3, MaxNumbers: 2})
		}
	}
}

// TestParseStringOwnsNothing: a Message from ParseString stays intact
// after its parser is reused for other bodies.
func TestParseStringOwnsNothing(t *testing.T) {
	msg, err := ParseString(`{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"echo","arguments":{"k":"v\u00e9"}}}`, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		_, _ = ParseString(`{"jsonrpc":"2.0","id":"zz","method":"tools/call","params":{"name":"ohce","arguments":{"q":"wwwww"}}}`, Limits{})
	}
	if msg.Tool != "echo" || string(msg.ID) != `"a1"` || msg.Arguments["k"] != "v\u00e9" {
		t.Errorf("message changed after parser reuse: %+v", msg)
	}
}
