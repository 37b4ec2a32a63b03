// Package redact is the one place that decides what of an error or a URL may
// be written where an operator (or anyone with log access) reads it: the
// logs, the admin /readyz detail and the decision log.
//
// Libraries quote their inputs in their errors: an HTTP client error names the
// whole URL with its query string (which may carry an API key), a policy
// engine error the value it failed to convert, a JSON parser the bytes it
// choked on. mcp-authz wraps such errors where they leave the library (at the
// package boundary) into an *Error: a stable snake_case Reason and a Detail
// with every URL cut to scheme, host and path and every quoted value
// replaced. Everything that writes an error for people then calls Error (or
// Attr for slog), which scrubs URLs once more, so an error built by our own
// code with fmt.Errorf("... %w", libErr) cannot carry a query string out
// either.
//
// The package is a leaf: it imports only the standard library, so every
// package (identity, policy, registry, the decision log) can use it.
package redact

import (
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// Placeholder replaces a value removed from a text.
const Placeholder = "[redacted]"

// invalidURL stands for a URL that does not parse: its text may be anything.
const invalidURL = "(invalid URL)"

// URL returns raw without userinfo, query and fragment: the parts that may
// carry credentials. A URL that does not parse is replaced as a whole.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return invalidURL
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// urlPattern finds absolute URLs in free text; a URL ends at white space or
// a quote, as Go's %q and most library messages delimit them.
var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>\x60]+`)

// credentialPattern finds an authorization scheme followed by its
// credential, as an HTTP library may echo a header.
var credentialPattern = regexp.MustCompile(`(?i)\b(bearer|dpop|basic)\s+[A-Za-z0-9\-._~+/=]+`)

// String scrubs s for people to read: every URL loses its userinfo, query
// and fragment and every "Bearer <credential>" its credential. Our own
// messages keep their quoted names (an issuer, a kid) this way.
func String(s string) string {
	s = urlPattern.ReplaceAllStringFunc(s, func(m string) string {
		trail := ""
		for len(m) > 1 && strings.ContainsAny(m[len(m)-1:], ".,;:)]}") {
			trail, m = m[len(m)-1:]+trail, m[:len(m)-1]
		}
		return URL(m) + trail
	})
	return credentialPattern.ReplaceAllString(s, "$1 "+Placeholder)
}

// quotedPattern finds the double- or back-quoted values a library message
// quotes its input with (Go's %q, JSON, OPA's operand text).
var quotedPattern = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`")

// Values is String that also replaces every quoted value of s: the form
// for a third-party message whose quotes hold inputs, never our own names.
func Values(s string) string {
	s = String(s)
	return quotedPattern.ReplaceAllString(s, `"`+Placeholder+`"`)
}

// Error is a third-party failure made safe to show: a stable Reason and a
// Detail free of inputs. The original error stays reachable with
// errors.Unwrap/As for code, never for printing.
type Error struct {
	// Reason is a stable snake_case code, e.g. "key_set_fetch_failed".
	Reason string
	// Detail says what failed without any input value.
	Detail string
	cause  error
}

// Wrap returns err as an *Error with reason, its detail the library's
// message with URLs cut and quoted values replaced (Values). A nil err
// stays nil.
func Wrap(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Reason: reason, Detail: Values(err.Error()), cause: err}
}

// WrapDetail is Wrap with a detail the caller wrote, for libraries whose
// message cannot be trusted even after Values (e.g. it quotes without
// quotes).
func WrapDetail(reason, detail string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Reason: reason, Detail: detail, cause: err}
}

// Error implements error: "reason: detail".
func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

// Unwrap returns the library's error, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.cause }

// ReasonOf returns the Reason of the first *Error in err's chain, "" when
// there is none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ErrorText is the text of err for a log line, /readyz or the decision log:
// err.Error() passed through String ("" for nil).
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	return String(err.Error())
}

// Attr is the slog attribute of err under key, scrubbed by ErrorText.
func Attr(key string, err error) slog.Attr {
	return slog.String(key, ErrorText(err))
}
