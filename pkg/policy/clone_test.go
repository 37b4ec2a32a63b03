package policy

import (
	"context"
	"reflect"
	"testing"
)

// fullDecision sets every field of the decision object.
const fullDecision = `decision := {
	"allow": true, "reason": "allowed", "http_status": 403,
	"jsonrpc_error": {"code": -32001, "message": "m"},
	"challenge": {"scheme": "DPoP", "error": "insufficient_scope", "scope": "a b"},
	"upstream_headers": {"x-user": input.mcp.method},
	"response_headers": {"x-r": "1"},
	"dynamic_metadata": {"a": {"b": [1, {"c": "d"}], "s": "t"}},
	"upstream_token": {"audience": "https://up.example.test", "ttl": 60, "claims": {"tenant": {"id": ["x"]}}},
	"remediation": {"url": "https://approve.example.test/x"},
	"needs_connection": {"provider": "github", "scopes": ["repo"]},
	"connections": ["github"],
	"rate_limits": [
		{"name": "per_user", "key": "u", "rate": {"requests": 10, "window": 60}},
		{"name": "budget", "key": "u", "budget": {"units": 5, "window": 60}, "cost": 1},
	],
}`

// TestDecisionCacheHitIsACopy: whatever a caller does to a decision Decide
// returned (every map, list and pointed-to value of it changed), the next
// hit returns the decision the policy made.
func TestDecisionCacheHitIsACopy(t *testing.T) {
	ctx := context.Background()
	want, err := newEngine(t, Options{}, decisionBundle(t, fullDecision)).Decide(ctx, minimalInput())
	if err != nil {
		t.Fatal(err)
	}
	requireEveryField(t, want)
	e := newEngine(t, Options{DecisionCache: 8}, decisionBundle(t, fullDecision))
	for i := range 3 {
		got, err := e.Decide(ctx, minimalInput())
		if !sameDecision(want, nil, got, err) || got.Meta.Cached != (i > 0) {
			t.Fatalf("decision %d = %+v, %v; want %+v (cached %v)", i, got, err, want, i > 0)
		}
		scribble(reflect.ValueOf(&got).Elem())
	}
}

// requireEveryField fails unless every policy field of d is set, so that
// a field added to Decision is covered by the copy test.
func requireEveryField(t *testing.T, d Decision) {
	t.Helper()
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.Name != "Meta" && v.Field(i).IsZero() {
			t.Fatalf("fullDecision leaves %s unset: add it", f.Name)
		}
	}
}

// scribble changes every value reachable from v in place: scalars, map
// members (and adds one), list elements, through pointers and interfaces.
// Meta is the engine's and left alone.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && f.Name != "Meta" {
				scribble(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			scribble(v.Index(i))
		}
	case reflect.Map:
		scribbleMap(v)
	case reflect.Interface:
		if !v.IsNil() {
			e := reflect.New(v.Elem().Type()).Elem()
			e.Set(v.Elem())
			scribble(e)
			v.Set(e)
		}
	default:
		scribbleScalar(v)
	}
}

// scribbleMap changes every member of a map and adds one.
func scribbleMap(v reflect.Value) {
	if v.IsNil() {
		return
	}
	for _, k := range v.MapKeys() {
		e := reflect.New(v.Type().Elem()).Elem()
		e.Set(v.MapIndex(k))
		scribble(e)
		v.SetMapIndex(k, e)
	}
	v.SetMapIndex(reflect.ValueOf("scribbled").Convert(v.Type().Key()), reflect.Zero(v.Type().Elem()))
}

// scribbleScalar changes a string, boolean or number.
func scribbleScalar(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "-scribbled")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 1)
	}
}
