package dpop

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxURLBytes bounds the URLs HTU and Check normalise.
const MaxURLBytes = 4 << 10

// HTU returns the htu a proof for a request to path must carry:
// publicOrigin (the configured external origin such as
// "https://mcp.example.test") joined with path, without query and fragment,
// in RFC 3986 §6.2.2 normal form (scheme and host lower-cased, default port
// removed, percent-encodings upper-cased and unreserved ones decoded,
// dot-segments removed). The request's own :scheme and :authority are not
// used: behind a sidecar they are not what the client saw.
func HTU(publicOrigin, path string) (string, error) {
	origin, err := normalizeOrigin(publicOrigin)
	if err != nil {
		return "", err
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("dpop: htu path %q is not absolute", path)
	}
	u, err := normalizeURL(origin + path)
	if err != nil {
		return "", fmt.Errorf("dpop: htu for path: %w", err)
	}
	return u, nil
}

// normalizeOrigin checks that origin is scheme://host[:port] with at most a
// "/" path and returns its normal form without the trailing slash.
func normalizeOrigin(origin string) (string, error) {
	if strings.ContainsAny(origin, "?#") {
		return "", fmt.Errorf("dpop: public origin %q has a query or fragment", origin)
	}
	u, err := normalizeURL(origin)
	if err != nil {
		return "", fmt.Errorf("dpop: public origin: %w", err)
	}
	base := strings.TrimSuffix(u, "/")
	if strings.Contains(base[strings.Index(base, "://")+3:], "/") {
		return "", fmt.Errorf("dpop: public origin %q has a path", origin)
	}
	return base, nil
}

// normalizeURL returns the normal form of an absolute http or https URI,
// dropping its query and fragment (RFC 9449 §4.3 compares htu without them).
// Userinfo and percent-encoded hosts are refused: no origin we serve has
// them.
func normalizeURL(raw string) (string, error) {
	if len(raw) > MaxURLBytes {
		return "", fmt.Errorf("dpop: URL of %d bytes exceeds %d", len(raw), MaxURLBytes)
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.IndexFunc(raw, notURIChar); i >= 0 {
		return "", fmt.Errorf("dpop: URL has a byte 0x%02x not allowed in a URI", raw[i])
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", errors.New("dpop: URL is not absolute")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("dpop: URL scheme %q is not http or https", scheme)
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host, err := normalizeAuthority(scheme, authority)
	if err != nil {
		return "", err
	}
	path, err = normalizePath(path)
	if err != nil {
		return "", err
	}
	return scheme + "://" + host + path, nil
}

// normalizeAuthority lower-cases the host and drops an empty or default
// port. It refuses userinfo and percent-encoded hosts.
func normalizeAuthority(scheme, authority string) (string, error) {
	if strings.ContainsAny(authority, "@%") {
		return "", errors.New("dpop: URL authority has userinfo or percent-encoding")
	}
	host, port := authority, ""
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && i > strings.LastIndexByte(authority, ']') {
		host, port = authority[:i], authority[i+1:]
	}
	if err := checkHost(host); err != nil {
		return "", err
	}
	host = strings.ToLower(host)
	if port == "" {
		return host, nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || strings.IndexFunc(port, notDigit) >= 0 {
		return "", fmt.Errorf("dpop: URL port %q is invalid", port)
	}
	if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
		return host, nil
	}
	return host + ":" + strconv.FormatUint(n, 10), nil
}

// checkHost accepts a non-empty reg-name or a bracketed IPv6 literal.
func checkHost(host string) error {
	if host == "" {
		return errors.New("dpop: URL host is empty")
	}
	if strings.HasPrefix(host, "[") {
		inner, ok := strings.CutSuffix(host[1:], "]")
		if !ok || inner == "" || strings.IndexFunc(inner, notIPv6Char) >= 0 {
			return fmt.Errorf("dpop: URL host %q is not an IPv6 literal", host)
		}
		return nil
	}
	if strings.ContainsAny(host, "[]:") {
		return fmt.Errorf("dpop: URL host %q is invalid", host)
	}
	return nil
}

// normalizePath normalises percent-encodings and removes dot-segments; an
// empty path becomes "/".
func normalizePath(path string) (string, error) {
	if path == "" {
		return "/", nil
	}
	p, err := normalizePercent(path)
	if err != nil {
		return "", err
	}
	return removeDotSegments(p), nil
}

// normalizePercent decodes percent-encoded unreserved characters and
// upper-cases the hex digits of the others (RFC 3986 §6.2.2.1, §6.2.2.2).
func normalizePercent(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errors.New("dpop: URL has an invalid percent-encoding")
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
		i += 2
	}
	return b.String(), nil
}

// removeDotSegments removes "." and ".." segments from an absolute path
// (RFC 3986 §5.2.4). A final "." or ".." leaves a trailing slash.
func removeDotSegments(path string) string {
	if !strings.Contains(path, "/.") {
		return path
	}
	segments := strings.Split(path[1:], "/")
	out := make([]string, 0, len(segments))
	for i, s := range segments {
		last := i == len(segments)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	default:
		return c - '0'
	}
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// notURIChar reports whether r may not appear in the scheme, authority or
// path of a URI (unreserved, gen-delims other than ? and #, sub-delims, %).
func notURIChar(r rune) bool {
	return r > 0x7f || !(isUnreserved(byte(r)) || strings.ContainsRune(":/[]@!$&'()*+,;=%", r))
}

func notDigit(r rune) bool { return r < '0' || r > '9' }

// notIPv6Char reports whether r may not appear in an IPv6 literal (no zone
// identifiers, no IPvFuture).
func notIPv6Char(r rune) bool { return !isHex(byte(r)) && r != ':' && r != '.' || r > 0x7f }
