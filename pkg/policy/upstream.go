package policy

import (
	"fmt"
	"net/url"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Bounds of a decision's upstream_token.
const (
	maxUpstreamTTL    = 300 // seconds: minted tokens live at most 5 minutes
	maxAudienceLen    = 2048
	maxUpstreamClaims = 32
)

// UpstreamToken is the decision's say in the token an allowed request
// carries upstream. Every field is optional; an empty object asks for a
// minted token with the hop's defaults.
type UpstreamToken struct {
	// Audience replaces the hop's audience: an absolute URI.
	Audience string `json:"audience,omitempty"`
	// Scope replaces the per-call scope: space-separated scope tokens.
	Scope string `json:"scope,omitempty"`
	// TTL is the lifetime in seconds, 1 to 300 (0: the configured ttl).
	TTL int `json:"ttl,omitempty"`
	// Claims are extra claims of the minted token; the claims the minter
	// sets (iss, sub, aud, exp, iat, nbf, jti, act, may_act, client_id,
	// scope, cnf) are refused.
	Claims map[string]any `json:"claims,omitempty"`
}

// mintedClaims are the claims only the minter sets.
var mintedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true,
	"act": true, "may_act": true, "client_id": true, "scope": true, "cnf": true,
}

func asUpstreamToken(v ast.Value) (*UpstreamToken, error) {
	var u UpstreamToken
	err := asObject(v, map[string]func(ast.Value) error{
		"audience": func(v ast.Value) (err error) {
			u.Audience, err = asString(v, maxAudienceLen)
			if err == nil && !absoluteURI(u.Audience) {
				err = fmt.Errorf("%q is not an absolute URI", u.Audience)
			}
			return err
		},
		"scope": quotedField(&u.Scope, func(s string) bool { return s != "" && isScope(s) }),
		"ttl": func(v ast.Value) (err error) {
			u.TTL, err = asInt(v, 1, maxUpstreamTTL)
			return err
		},
		"claims": func(v ast.Value) error { return u.setClaims(v) },
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (u *UpstreamToken) setClaims(v ast.Value) error {
	m, err := asMetadata(v)
	if err != nil {
		return err
	}
	if len(m) > maxUpstreamClaims {
		return fmt.Errorf("has %d claims; want at most %d", len(m), maxUpstreamClaims)
	}
	for k := range m {
		if mintedClaims[k] {
			return fmt.Errorf("claim %q is set by the minter", k)
		}
	}
	u.Claims = m
	return nil
}

func absoluteURI(s string) bool {
	p, err := url.Parse(s)
	return err == nil && p.Scheme != "" && p.Host != "" && p.Fragment == ""
}
