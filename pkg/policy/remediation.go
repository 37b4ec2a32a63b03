package policy

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Remediation tells a client what would let a denied call through, for
// structured denials (SEP-2643, deny_format tool_result). It names a place
// or a connection, never a rule, a role list or a token. Exactly one field
// is set.
type Remediation struct {
	// URL is an absolute https URL the user can visit (approval, sign-in,
	// request access). At most 2048 bytes, no user info, no fragment.
	URL string `json:"url,omitempty"`
	// Connection names the connection (e.g. an upstream provider account)
	// the call needs once user credentials exist: 1 to 64 of A-Z a-z 0-9 _ . -.
	Connection string `json:"connection,omitempty"`
}

// maxRemediationURL bounds Remediation.URL.
const maxRemediationURL = 2048

var connectionName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// asRemediation decodes the decision's remediation strictly.
func asRemediation(v ast.Value) (*Remediation, error) {
	var r Remediation
	err := asObject(v, map[string]func(ast.Value) error{
		"url": func(v ast.Value) (err error) {
			if r.URL, err = asString(v, maxRemediationURL); err != nil {
				return err
			}
			return checkRemediationURL(r.URL)
		},
		"connection": func(v ast.Value) (err error) {
			if r.Connection, err = asString(v, 64); err != nil {
				return err
			}
			if !connectionName.MatchString(r.Connection) {
				return fmt.Errorf("%q is not 1 to 64 of A-Z a-z 0-9 _ . -", r.Connection)
			}
			return nil
		},
	})
	switch {
	case err != nil:
		return nil, err
	case (r.URL == "") == (r.Connection == ""):
		return nil, errors.New("want exactly one of url and connection")
	}
	return &r, nil
}

// checkRemediationURL accepts an absolute https URL with a host, without
// user info, fragment, spaces or control characters.
func checkRemediationURL(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] == 0x7f {
			return errors.New("url has a space or control character")
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return errors.New("url is not an absolute https URL without user info or fragment")
	}
	return nil
}
