package decisionlog

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ArgumentsPointer is the JSON pointer of the tool arguments in a record:
// every mask rule's path starts with it, and it is what "erased" lists
// when the arguments are erased whole.
const ArgumentsPointer = "/arguments"

// Mask operations, as OPA's system.log.mask spells them.
const (
	OpRemove = "remove"
	OpUpsert = "upsert"
)

// MaskRule is one masking rule with OPA's system.log.mask semantics: a
// bare JSON pointer (or op "remove") erases the value at Path; op "upsert"
// replaces it with Value (creating it when absent).
type MaskRule struct {
	// Op is "remove" or "upsert".
	Op string
	// Path is a JSON pointer under /arguments, e.g. /arguments/password.
	Path string
	// Value replaces the value at Path for an upsert.
	Value any
	segs  []string
}

// maxMaskRules bounds the rules one tool may have; the policy data is the
// operator's, but a bound keeps a mistake from costing every record.
const maxMaskRules = 256

// ParseMaskRules reads one tool's rules from policy data: a list whose
// items are a JSON pointer string or an object {op, path, value}.
func ParseMaskRules(raw any) ([]MaskRule, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("mask rules: want a list, got %T", raw)
	}
	if len(list) > maxMaskRules {
		return nil, fmt.Errorf("mask rules: %d rules, at most %d", len(list), maxMaskRules)
	}
	out := make([]MaskRule, 0, len(list))
	for i, item := range list {
		r, err := parseRule(item)
		if err != nil {
			return nil, fmt.Errorf("mask rules[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRule(item any) (MaskRule, error) {
	var r MaskRule
	switch t := item.(type) {
	case string:
		r = MaskRule{Op: OpRemove, Path: t}
	case map[string]any:
		op, _ := t["op"].(string)
		path, _ := t["path"].(string)
		r = MaskRule{Op: op, Path: path, Value: t["value"]}
		for k := range t {
			if k != "op" && k != "path" && k != "value" {
				return r, fmt.Errorf("unknown key %q", k)
			}
		}
	default:
		return r, fmt.Errorf("want a JSON pointer or an {op, path, value} object, got %T", item)
	}
	if r.Op != OpRemove && r.Op != OpUpsert {
		return r, fmt.Errorf("op %q: want remove or upsert", r.Op)
	}
	segs, err := parsePointer(r.Path)
	if err != nil {
		return r, err
	}
	r.segs = segs
	return r, nil
}

// parsePointer splits an RFC 6901 pointer under /arguments into the
// unescaped segments below it.
func parsePointer(p string) ([]string, error) {
	if p != ArgumentsPointer && !strings.HasPrefix(p, ArgumentsPointer+"/") {
		return nil, fmt.Errorf("path %q: must start with %s", p, ArgumentsPointer)
	}
	rest := strings.TrimPrefix(p, ArgumentsPointer)
	if rest == "" {
		return nil, nil
	}
	segs := strings.Split(rest[1:], "/")
	for i, s := range segs {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(s, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("path %q: invalid escape", p)
		}
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// errNotFound says a pointer names nothing: the rule does not apply.
var errNotFound = errors.New("not found")

// Apply returns a masked deep copy of args with the pointers erased and
// masked. args itself is never modified. A rule whose path names nothing
// is skipped (OPA does the same); a rule on the whole /arguments erases
// them (nil result) or replaces them by an upsert of an object.
func Apply(args map[string]any, rules []MaskRule) (out map[string]any, erased, masked []string) {
	cp, _ := deepCopy(args).(map[string]any)
	for _, r := range rules {
		if len(r.segs) == 0 {
			if r.Op == OpRemove {
				return nil, []string{ArgumentsPointer}, nil
			}
			if obj, ok := deepCopy(r.Value).(map[string]any); ok {
				cp = obj
				masked = append(masked, ArgumentsPointer)
			}
			continue
		}
		if err := applyAt(cp, r); err != nil {
			continue
		}
		if r.Op == OpRemove {
			erased = append(erased, r.Path)
		} else {
			masked = append(masked, r.Path)
		}
	}
	sort.Strings(erased)
	sort.Strings(masked)
	return cp, erased, masked
}

// applyAt walks to the parent of the rule's target and erases or sets it.
func applyAt(root map[string]any, r MaskRule) error {
	var cur any = root
	for _, s := range r.segs[:len(r.segs)-1] {
		next, err := child(cur, s)
		if err != nil {
			return err
		}
		cur = next
	}
	last := r.segs[len(r.segs)-1]
	switch c := cur.(type) {
	case map[string]any:
		if _, ok := c[last]; !ok && r.Op == OpRemove {
			return errNotFound
		}
		if r.Op == OpRemove {
			delete(c, last)
		} else {
			c[last] = deepCopy(r.Value)
		}
		return nil
	case []any:
		i, err := index(c, last)
		if err != nil {
			return err
		}
		if r.Op == OpRemove {
			c[i] = nil // a list keeps its length: later pointers stay meaningful
		} else {
			c[i] = deepCopy(r.Value)
		}
		return nil
	}
	return errNotFound
}

func child(cur any, seg string) (any, error) {
	switch c := cur.(type) {
	case map[string]any:
		v, ok := c[seg]
		if !ok {
			return nil, errNotFound
		}
		return v, nil
	case []any:
		i, err := index(c, seg)
		if err != nil {
			return nil, err
		}
		return c[i], nil
	}
	return nil, errNotFound
}

func index(list []any, seg string) (int, error) {
	i, err := strconv.Atoi(seg)
	if err != nil || i < 0 || i >= len(list) || (len(seg) > 1 && seg[0] == '0') {
		return 0, errNotFound
	}
	return i, nil
}

// deepCopy copies JSON-shaped values (maps and lists); scalars are shared.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
