package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// maxFileBytes bounds the configuration file.
const maxFileBytes = 1 << 20

// Load reads, decodes, defaults and validates the file at path. It reports
// every problem at once (unknown keys, wrong types, invalid values).
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, maxFileBytes)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML (or JSON) bytes, applies defaults and validates.
func Parse(b []byte) (*Config, error) {
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	var raw any
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if raw == nil {
		raw = map[string]any{}
	}
	if problems := unknownKeys(raw, reflect.TypeOf(Config{}), ""); len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	c := &Config{}
	dec := json.NewDecoder(bytes.NewReader(js))
	if string(bytes.TrimSpace(js)) != "null" {
		if err := dec.Decode(c); err != nil {
			return nil, typeError(err)
		}
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// typeError names the key of a JSON type error.
func typeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return err
}

// unknownKeys walks raw against the struct type t and returns one error per
// key that t does not declare, named by its dotted path.
func unknownKeys(raw any, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok || t == reflect.TypeOf(Duration(0)) {
			return nil
		}
		return unknownStructKeys(m, t, path)
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			return nil
		}
		var errs []error
		for i, v := range list {
			errs = append(errs, unknownKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case reflect.Map:
		return unknownMapKeys(raw, t, path)
	}
	return nil
}

// unknownMapKeys walks the values of a map keyed by name (the bundle key
// map): each is checked against the map's value type.
func unknownMapKeys(raw any, t reflect.Type, path string) []error {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []error
	for _, k := range names {
		errs = append(errs, unknownKeys(m[k], t.Elem(), joinPath(path, k))...)
	}
	return errs
}

func unknownStructKeys(m map[string]any, t reflect.Type, path string) []error {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		p := joinPath(path, k)
		ft, ok := fields[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown key", p))
			continue
		}
		errs = append(errs, unknownKeys(m[k], ft, p)...)
	}
	return errs
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
