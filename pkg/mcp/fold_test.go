package mcp

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestFoldRuneIsOrbitMinimum(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		lowest := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			lowest = min(lowest, f)
		}
		if got := foldRune(r); got != lowest {
			t.Fatalf("foldRune(%U) = %U; want %U", r, got, lowest)
		}
	}
}

func TestFoldEqual(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
	}{
		{"identical", "name", "name"},
		{"ASCII case", "NAME", "name"},
		{"mixed case", "paRAms", "PArams"},
		{"long s", "paramſ", "params"},
		{"Kelvin sign", "\u212a", "k"},
		{"Greek sigma forms", "σ", "ς"},
		{"sharp s is not ss", "ß", "ss"},
		{"capital sharp s", "ẞ", "ß"},
		{"different length", "name", "names"},
		{"empty", "", ""},
		{"empty and not", "", "a"},
		{"punctuation", "a_b", "a-b"},
		{"at and backquote", "@", "`"},
		{"dotless i", "ı", "I"},
		{"dotted capital I", "İ", "i"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.EqualFold(tc.a, tc.b)
			if got := foldEqual([]byte(tc.a), []byte(tc.b)); got != want {
				t.Errorf("foldEqual(%q, %q) = %v; want %v (strings.EqualFold)", tc.a, tc.b, got, want)
			}
			if got := string(appendFold(nil, []byte(tc.a))) == string(appendFold(nil, []byte(tc.b))); got != want {
				t.Errorf("appendFold(%q) == appendFold(%q) is %v; want %v", tc.a, tc.b, got, want)
			}
		})
	}
}

func TestFoldEqualEveryOrbit(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		a := []byte(string(r))
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if !foldEqual(a, []byte(string(f))) {
				t.Fatalf("foldEqual(%U, %U) = false; want true", r, f)
			}
		}
		if next := r + 1; next != 0xD800 && strings.EqualFold(string(r), string(next)) != foldEqual(a, []byte(string(next))) {
			t.Fatalf("foldEqual(%U, %U) disagrees with strings.EqualFold", r, next)
		}
	}
}

func FuzzFoldEqual(f *testing.F) {
	for _, s := range [][2]string{{"name", "NAME"}, {"paramſ", "params"}, {"\u212a", "k"}, {"ß", "ss"}, {"", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		want := strings.EqualFold(a, b)
		if got := foldEqual([]byte(a), []byte(b)); got != want {
			t.Errorf("foldEqual(%q, %q) = %v; want %v", a, b, got, want)
		}
		if got := string(appendFold(nil, []byte(a))) == string(appendFold(nil, []byte(b))); got != want {
			t.Errorf("appendFold(%q) == appendFold(%q) is %v; want %v", a, b, got, want)
		}
	})
}

func TestFoldKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"path", "PATH", true},
		{"params", "paramſ", true}, // U+017F LATIN SMALL LETTER LONG S
		{"kelvin", "\u212aelvin", true},
		{"path", "paths", false},
		{"a-b", "a_b", false},
	}
	for _, tc := range tests {
		if got := FoldKey(tc.a) == FoldKey(tc.b); got != tc.same || got != strings.EqualFold(tc.a, tc.b) {
			t.Errorf("FoldKey(%q) == FoldKey(%q) is %v; want %v (strings.EqualFold)", tc.a, tc.b, got, tc.same)
		}
	}
}
