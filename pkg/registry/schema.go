package registry

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/registry/jcs"
)

// schemaBase is the base URL each inputSchema is compiled under. The .invalid
// TLD (RFC 2606) never resolves, and noRemote refuses to load anything.
const schemaBase = "https://registry.mcp-authz.invalid/tools/"

// errRemoteRef is what noRemote returns for every URL.
var errRemoteRef = errors.New("only local $ref is allowed; remote loading is disabled")

// noRemote is a jsonschema.URLLoader that loads nothing: a $ref or $schema
// that is neither inside the schema nor a standard meta-schema fails.
type noRemote struct{}

// Load implements jsonschema.URLLoader.
func (noRemote) Load(string) (any, error) { return nil, errRemoteRef }

// compileSchema compiles an approved inputSchema (draft 2020-12 unless it
// says otherwise) after bounding its canonical size.
func compileSchema(id string, raw any, maxBytes int) (*jsonschema.Schema, error) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("want a JSON Schema object")
	}
	canon, err := jcs.Marshal(obj)
	if err != nil {
		return nil, err
	}
	if len(canon) > maxBytes {
		return nil, fmt.Errorf("%d bytes, more than the limit of %d", len(canon), maxBytes)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(canon)) // a private copy with json.Number numbers
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noRemote{})
	loc := schemaBase + url.PathEscape(id) + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

// validate checks args against the approved schema. It is a pure function
// of the entry (immutable after Load) and args: the memo (Registry.validate)
// relies on that.
func (t *toolEntry) validate(args map[string]any) (bool, string) {
	if args == nil {
		args = map[string]any{}
	}
	if at := t.names.caseVariant(args); at != "" {
		return false, at + ": case"
	}
	err := t.schema.Validate(args)
	if err == nil {
		return true, ""
	}
	return false, describe(err)
}

// declaredNames is every property name an inputSchema declares, anywhere
// in it (nested objects, items, $defs, allOf/anyOf/oneOf, ...), exactly and
// case-folded.
type declaredNames struct {
	exact  map[string]bool
	folded map[string]bool
}

// maxSchemaWalk bounds the schema nodes visited (schemas are already size-bounded).
const maxSchemaWalk = 10000

// collectNames walks an approved inputSchema once, at load.
func collectNames(schema any) declaredNames {
	d := declaredNames{exact: map[string]bool{}, folded: map[string]bool{}}
	budget := maxSchemaWalk
	var walk func(v any)
	walk = func(v any) {
		if budget--; budget < 0 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				for name := range props {
					d.exact[name], d.folded[mcp.FoldKey(name)] = true, true
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(schema)
	return d
}

// caseVariant finds, at any depth of args, a member name that differs from
// a declared property name only in case ("PATH" for "path", "paramſ" for
// "params"), and returns the JSON pointer of the one that sorts first ("" for
// none), so the text is stable whatever order map iteration visits members
// in. A schema that does not forbid additional properties would accept it,
// and a server decoding into Go structs binds it to the declared property:
// the tool would run with a value the policy never saw under that name. A
// name declared exactly is always fine (a schema may declare both "id" and
// "ID").
func (d declaredNames) caseVariant(args any) string {
	if len(d.folded) == 0 {
		return "" // nothing declared: no name can be a variant
	}
	best := ""
	d.walkVariants(args, nil, &best)
	return best
}

// walkVariants lowers *best to the pointer of every case variant under v
// (at path). It does not descend into a variant's value: every pointer
// there has the variant's as a prefix, so it sorts after it.
func (d declaredNames) walkVariants(v any, path []string, best *string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			at := append(path[:len(path):len(path)], k)
			if !d.exact[k] && d.folded[mcp.FoldKey(k)] {
				if p := pointer(at); *best == "" || p < *best {
					*best = p
				}
				continue
			}
			d.walkVariants(e, at, best)
		}
	case []any:
		for i, e := range x {
			d.walkVariants(e, append(path[:len(path):len(path)], strconv.Itoa(i)), best)
		}
	}
}

// describe reduces a validation error to "<pointer>: <keyword>" for the
// leaf that sorts first, so the text is stable whatever order the validator
// visited object members in. It never includes an instance value.
func describe(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "(root): invalid"
	}
	best := ""
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			if s := leafText(e); best == "" || s < best {
				best = s
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return best
}

func leafText(e *jsonschema.ValidationError) string {
	loc := e.InstanceLocation
	if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok && len(ap.Properties) > 0 {
		first := ap.Properties[0]
		for _, p := range ap.Properties[1:] {
			first = min(first, p)
		}
		loc = append(loc[:len(loc):len(loc)], first)
	}
	keyword := "false"
	if kp := e.ErrorKind.KeywordPath(); len(kp) > 0 {
		keyword = kp[0]
	}
	return pointer(loc) + ": " + keyword
}
