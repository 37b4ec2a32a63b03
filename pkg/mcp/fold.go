package mcp

import (
	"unicode"
	"unicode/utf8"
)

// foldRune returns the canonical member of r's simple case-folding orbit: the
// smallest rune reachable through unicode.SimpleFold. Two runes are equal
// under strings.EqualFold exactly when their foldRune values are equal; this
// is also how encoding/json matches member names to struct fields.
func foldRune(r rune) rune {
	for {
		next := unicode.SimpleFold(r)
		if next <= r {
			return next
		}
		r = next
	}
}

// foldASCII maps an ASCII byte to its canonical fold (the upper case letter,
// which is the smallest rune of every ASCII letter's orbit).
func foldASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// foldEqual reports whether a and b (valid UTF-8) are equal under Unicode
// simple case folding, as strings.EqualFold does. Lengths may differ: "ſ"
// (two bytes) folds to "s" (one byte), "K" (U+212A, three bytes) to "k".
func foldEqual(a, b []byte) bool {
	for len(a) > 0 && len(b) > 0 {
		ca, cb := a[0], b[0]
		if ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			if ca != cb && foldASCII(ca) != foldASCII(cb) {
				return false
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRune(b)
		if ra != rb && foldRune(ra) != foldRune(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) == 0 && len(b) == 0
}

// appendFold appends the canonical folded form of s to dst: equal results
// for exactly the strings foldEqual relates. Used to index large objects.
func appendFold(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, foldASCII(c))
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

// FoldKey returns s in canonical folded form: FoldKey(a) == FoldKey(b)
// exactly when strings.EqualFold(a, b), which is how encoding/json matches
// member names to struct fields. Other packages use it to refuse names a
// case-insensitive decoder would confuse.
func FoldKey(s string) string { return string(appendFold(nil, []byte(s))) }
