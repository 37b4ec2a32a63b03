package registry

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

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

// validate checks args against the approved schema.
func (t *toolEntry) validate(args map[string]any) (bool, string) {
	if args == nil {
		args = map[string]any{}
	}
	if key, bad := t.caseVariant(args); bad {
		return false, pointer([]string{key}) + ": case"
	}
	err := t.schema.Validate(args)
	if err == nil {
		return true, ""
	}
	return false, describe(err)
}

// foldedProperties maps the case-folded name of each top-level property the
// schema declares to the declared name.
func foldedProperties(schema any) map[string]string {
	obj, _ := schema.(map[string]any)
	props, _ := obj["properties"].(map[string]any)
	out := make(map[string]string, len(props))
	for name := range props {
		out[strings.ToLower(name)] = name
	}
	return out
}

// caseVariant finds an argument whose name differs from a declared property
// only in case ("PATH" for "path"). A schema without additionalProperties
// false would accept it, and a server decoding into Go structs binds it to
// the declared property: the tool would run with a value the policy never
// saw under that name. Compared with strings.EqualFold, as encoding/json is.
func (t *toolEntry) caseVariant(args map[string]any) (string, bool) {
	for k := range args {
		declared, ok := t.folded[strings.ToLower(k)]
		if !ok {
			for f, d := range t.folded {
				if strings.EqualFold(f, k) {
					declared, ok = d, true
					break
				}
			}
		}
		if ok && declared != k {
			return k, true
		}
	}
	return "", false
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
