package policy

import (
	"fmt"
	"slices"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The decision cache may key a decision on part of the input only when that
// part is provably all the policy can see. inputReads derives it from the
// compiled bundle: every reference to input, cut at its first element that is
// not a constant string or number (input.principal.claims[name] reads all of
// input.principal.claims), plus object.get(input…, constant path, _). A
// bare input (walk(input), json.filter(input, …), x := input) or a
// non-deterministic built-in (time.now_ns, http.send, rand.intn, … and
// anything OPA marks Nondeterministic) makes the decision depend on more than
// the projection, so the bundle gets no cache.

// objectGetRef is the operator of object.get.
var objectGetRef = ast.MustParseRef("object.get")

// timeDependent are built-ins whose result depends on the clock or the
// environment although OPA does not mark them Nondeterministic.
var timeDependent = map[string]bool{
	"time.now_ns":          true,
	"opa.runtime":          true,
	"io.jwt.decode_verify": true,
	"http.send":            true,
	"net.lookup_ip_addr":   true,
	"rand.intn":            true,
	"uuid.rfc4122":         true,
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
}

// readScan collects what the rules of a bundle read.
type readScan struct {
	paths  []ast.Ref // input refs, each cut at its first non-constant element
	whole  string    // where input itself is first read as a value ("" nowhere)
	nondet string    // the first non-deterministic built-in called ("" none)
	rule   *ast.Rule // the rule being walked, for locations
	// alias maps the compiler's local variables bound to a constant input
	// reference (the compiler turns object.get(input, …) into
	// __local1__ = input; object.get(__local1__, …)) to that reference;
	// def holds their defining expressions, which read nothing themselves.
	alias map[ast.Var]ast.Ref
	def   map[*ast.Expr]bool
}

// inputReads returns the minimal set of input paths the compiled modules
// can read (no path is a prefix of another), or an error saying why no
// projection can stand in for the input.
func inputReads(c *ast.Compiler) ([]ast.Ref, error) {
	var s readScan
	names := make([]string, 0, len(c.Modules))
	for name := range c.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, r := range c.Modules[name].Rules {
			s.rule = r
			s.aliases(r)
			s.walk(r)
		}
	}
	switch {
	case s.nondet != "":
		return nil, fmt.Errorf("the policy calls %s, whose result is not a function of the input", s.nondet)
	case s.whole != "":
		return nil, fmt.Errorf("the policy reads the whole input document (%s)", s.whole)
	}
	return minimalPaths(s.paths), nil
}

// walk visits x, recording input reads and non-deterministic calls.
func (s *readScan) walk(x any) {
	ast.NewGenericVisitor(s.visit).Walk(x)
}

// visit is the visitor: true stops the descent where visit walked the
// children itself.
func (s *readScan) visit(x any) bool {
	switch x := x.(type) {
	case *ast.With:
		s.walk(x.Value) // the target is written, not read
		return true
	case *ast.Expr:
		if s.def[x] {
			return true
		}
		if x.IsCall() {
			s.call(x.Operator())
			if x.Operator().Equal(objectGetRef) && s.objectGet(x.Operands()) {
				return true
			}
		}
	case ast.Call:
		if len(x) > 0 {
			if ref, ok := x[0].Value.(ast.Ref); ok {
				s.call(ref)
				if ref.Equal(objectGetRef) && s.objectGet(x[1:]) {
					return true
				}
			}
		}
	case ast.Ref:
		if full, ok := s.inputRef(x); ok {
			s.read(constantPrefix(full))
			for _, t := range x[1:] {
				s.walk(t)
			}
			return true
		}
	case ast.Var:
		if full, ok := s.inputRef(ast.Ref{ast.NewTerm(x)}); ok {
			s.read(full)
		}
	}
	return false
}

// inputRef returns ref as a reference into input: itself when it starts at
// input, the alias's reference extended by the rest when it starts at an
// alias.
func (s *readScan) inputRef(ref ast.Ref) (ast.Ref, bool) {
	if ref.HasPrefix(ast.InputRootRef) {
		return ref, true
	}
	v, ok := ref[0].Value.(ast.Var)
	if !ok {
		return nil, false
	}
	base, ok := s.alias[v]
	if !ok {
		return nil, false
	}
	return append(slices.Clone(base), ref[1:]...), true
}

// aliases finds the rule's compiler-made locals bound to a constant input
// reference: an expression __localN__ = input… where the variable is
// generated (so bound nowhere else first).
func (s *readScan) aliases(r *ast.Rule) {
	s.alias, s.def = map[ast.Var]ast.Ref{}, map[*ast.Expr]bool{}
	ast.WalkExprs(r, func(e *ast.Expr) bool {
		if !e.IsEquality() && !e.IsAssignment() {
			return false
		}
		ops := e.Operands()
		for i := range 2 {
			v, isVar := ops[i].Value.(ast.Var)
			ref, isRef := ops[1-i].Value.(ast.Ref)
			if isVar && v.IsGenerated() && isRef && ref.HasPrefix(ast.InputRootRef) && len(constantPrefix(ref)) == len(ref) {
				if _, dup := s.alias[v]; !dup {
					s.alias[v], s.def[e] = ref, true
				}
			}
		}
		return false
	})
}

// read records a read of path; input itself is the whole document.
func (s *readScan) read(path ast.Ref) {
	if len(path) == 1 && s.whole == "" {
		s.whole = "rule " + s.rule.Head.Ref().String()
		if loc := s.rule.Location; loc != nil {
			s.whole += " at " + loc.String()
		}
	}
	s.paths = append(s.paths, path)
}

// call records a call of a non-deterministic built-in.
func (s *readScan) call(op ast.Ref) {
	name := op.String()
	b, ok := ast.BuiltinMap[name]
	if s.nondet == "" && (timeDependent[name] || ok && b.Nondeterministic) {
		s.nondet = name
	}
}

// objectGet records object.get(input…, path, default) with a constant path
// as a read of that path, and walks the other operands. It reports whether
// the call had that shape.
func (s *readScan) objectGet(ops []*ast.Term) bool {
	if len(ops) < 3 {
		return false
	}
	var ref ast.Ref
	switch x := ops[0].Value.(type) {
	case ast.Ref:
		ref = x
	case ast.Var:
		ref = ast.Ref{ops[0]}
	default:
		return false
	}
	ref, ok := s.inputRef(ref)
	if !ok || !ops[1].IsGround() {
		return false
	}
	base := constantPrefix(ref)
	if len(base) != len(ref) {
		return false // input.x[v]: the base itself is variable; read it whole
	}
	var path []*ast.Term
	switch p := ops[1].Value.(type) {
	case *ast.Array:
		for i := 0; i < p.Len(); i++ {
			path = append(path, p.Elem(i))
		}
	default:
		path = []*ast.Term{ops[1]} // a single key
	}
	s.read(constantPrefix(append(slices.Clone(base), path...)))
	for _, t := range ops[2:] {
		s.walk(t)
	}
	return true
}

// constantPrefix returns ref up to (not including) its first element that
// is not a string or number constant.
func constantPrefix(ref ast.Ref) ast.Ref {
	for i := 1; i < len(ref); i++ {
		switch ref[i].Value.(type) {
		case ast.String, ast.Number:
		default:
			return ref[:i:i]
		}
	}
	return ref
}

// minimalPaths sorts paths and drops every path that has another as a
// prefix (reading input.a covers input.a.b) and every duplicate.
func minimalPaths(paths []ast.Ref) []ast.Ref {
	sort.Slice(paths, func(i, j int) bool { return paths[i].Compare(paths[j]) < 0 })
	var out []ast.Ref
	for _, p := range paths {
		if len(out) > 0 && p.HasPrefix(out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}
