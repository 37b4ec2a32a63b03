package policy

import (
	"bytes"
	_ "embed" // schemas are embedded
	"fmt"
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schema/input.schema.json
var inputSchemaJSON []byte

//go:embed schema/data.schema.json
var dataSchemaJSON []byte

// InputSchema returns the JSON Schema (draft-07) of Input: the schema OPA's
// type checker applies to `input` when a bundle compiles.
func InputSchema() []byte { return slices.Clone(inputSchemaJSON) }

// DataSchema returns the JSON Schema the data at data.mcp of a bundle must
// match.
func DataSchema() []byte { return slices.Clone(dataSchemaJSON) }

// schemas are the embedded schemas, compiled once.
type schemas struct {
	input *ast.SchemaSet     // for OPA's type checker
	data  *jsonschema.Schema // for bundle data
}

var loadSchemas = sync.OnceValues(func() (*schemas, error) {
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(inputSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("input.schema.json: %w", err)
	}
	set := ast.NewSchemaSet()
	set.Put(ast.SchemaRootRef, raw)
	data, err := compileJSONSchema("data.schema.json", dataSchemaJSON)
	if err != nil {
		return nil, err
	}
	return &schemas{input: set, data: data}, nil
})

// compileJSONSchema compiles one self-contained schema document.
func compileJSONSchema(name string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// validateData checks a bundle's data document: nothing outside data.mcp
// (the bundle's one root), and data.mcp against the data schema.
func validateData(s *schemas, data map[string]any) error {
	for k := range data {
		if k != BundleRoot {
			return fmt.Errorf("bundle data has %q outside the root %q", k, BundleRoot)
		}
	}
	mcpData, ok := data[BundleRoot]
	if !ok {
		mcpData = map[string]any{}
	}
	if err := s.data.Validate(mcpData); err != nil {
		return fmt.Errorf("bundle data at %s does not match data.schema.json: %w", BundleRoot, err)
	}
	return nil
}
