package policy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaDoc decodes the embedded input schema.
func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(InputSchema(), &doc); err != nil {
		t.Fatalf("input schema: %v", err)
	}
	return doc
}

// TestInputSchemaMatchesStruct checks that every json field of Input and
// its nested types is in the schema, and nothing else is: fixed objects are
// closed, required lists exactly the fields without omitempty, and each
// property's type admits the Go type.
func TestInputSchemaMatchesStruct(t *testing.T) {
	checkStruct(t, "input", reflect.TypeFor[Input](), schemaDoc(t))
}

func checkStruct(t *testing.T, path string, typ reflect.Type, schema map[string]any) {
	t.Helper()
	if !slices.Contains(schemaTypes(schema), "object") || schema["additionalProperties"] != false {
		t.Errorf("%s: schema is not a closed object (type %v, additionalProperties %v)", path, schema["type"], schema["additionalProperties"])
	}
	props, _ := schema["properties"].(map[string]any)
	var required []string
	for _, r := range asSlice(schema["required"]) {
		required = append(required, r.(string))
	}
	seen := map[string]bool{}
	var wantRequired []string
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		seen[name] = true
		if !strings.Contains(opts, "omitempty") {
			wantRequired = append(wantRequired, name)
		}
		prop, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s.%s (%s.%s): not in the schema", path, name, typ.Name(), f.Name)
			continue
		}
		checkField(t, path+"."+name, f.Type, prop)
	}
	for name := range props {
		if !seen[name] {
			t.Errorf("%s.%s: in the schema but not a field of %s", path, name, typ.Name())
		}
	}
	slices.Sort(required)
	slices.Sort(wantRequired)
	if !slices.Equal(required, wantRequired) {
		t.Errorf("%s: required = %v; want the fields without omitempty %v", path, required, wantRequired)
	}
}

// checkField checks one property against its Go type, recursing into structs.
func checkField(t *testing.T, path string, typ reflect.Type, prop map[string]any) {
	t.Helper()
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ == reflect.TypeFor[json.RawMessage]() {
		if prop["anyOf"] == nil {
			t.Errorf("%s: a raw JSON id wants anyOf number/string", path)
		}
		return
	}
	want := map[reflect.Kind]string{
		reflect.String: "string", reflect.Bool: "boolean", reflect.Slice: "array",
		reflect.Map: "object", reflect.Struct: "object",
	}[typ.Kind()]
	if !slices.Contains(schemaTypes(prop), want) {
		t.Errorf("%s: schema type %v does not admit %s (%s)", path, prop["type"], want, typ)
	}
	if typ.Kind() == reflect.Struct {
		checkStruct(t, path, typ, prop)
	}
}

func schemaTypes(s map[string]any) []string {
	switch v := s["type"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestInputSchemaValidatesInputs validates the JSON form of varied inputs
// against the schema, so the schema admits every Input the Go side builds.
func TestInputSchemaValidatesInputs(t *testing.T) {
	s, err := compileJSONSchema("input.schema.json", inputSchemaJSON)
	if err != nil {
		t.Fatalf("compile input schema: %v", err)
	}
	for _, tc := range inputCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.MCP.Kind == "" {
				tc.in.MCP.Kind = "none" // the zero Input has no kind; the schema enumerates them
			}
			bs, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(bs))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(doc); err != nil {
				t.Errorf("Validate(%s) = %v", bs, err)
			}
		})
	}
}

func TestEmbeddedSchemasCompile(t *testing.T) {
	if _, err := loadSchemas(); err != nil {
		t.Fatalf("loadSchemas() = %v", err)
	}
	if !json.Valid(DataSchema()) {
		t.Error("DataSchema() is not valid JSON")
	}
}

func TestValidateData(t *testing.T) {
	s, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
		ok   bool
	}{
		{"empty", `{}`, true},
		{"empty mcp", `{"mcp": {}}`, true},
		{"settings", `{"mcp": {"settings": {"require_tenant": true, "tenant_claim": "tid"}}}`, true},
		{"outside root", `{"other": {}}`, false},
		{"wrong type", `{"mcp": {"settings": {"require_tenant": "yes"}}}`, false},
		{"unknown member", `{"mcp": {"rolez": {}}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var data map[string]any
			if err := json.Unmarshal([]byte(tc.data), &data); err != nil {
				t.Fatal(err)
			}
			if err := validateData(s, data); (err == nil) != tc.ok {
				t.Errorf("validateData(%s) = %v; want ok %v", tc.data, err, tc.ok)
			}
		})
	}
}
