package registry

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxTokenBytes bounds one client-controlled name echoed in an error.
const maxTokenBytes = 64

// safeToken makes a client-controlled name fit for error text and logs:
// at most maxTokenBytes bytes, non-printable and non-ASCII characters
// escaped.
func safeToken(s string) string {
	suffix := ""
	if len(s) > maxTokenBytes {
		cut := maxTokenBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s, suffix = s[:cut], "..."
	}
	q := strconv.QuoteToASCII(s)
	return q[1:len(q)-1] + suffix
}

// pointer renders tokens as an RFC 6901 JSON pointer ("(root)" when empty),
// each token made safe with safeToken.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return "(root)"
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
		b.WriteString(safeToken(t))
	}
	return b.String()
}
