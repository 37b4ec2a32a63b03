package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Connection is what the policy input says of the caller's credential for one
// provider: whether a usable one is stored, its scopes and expiry. Never the
// token: credentials do not reach the input.
type Connection struct {
	// Connected is true when a credential is stored, not marked stale and not
	// expired (or refreshable).
	Connected bool `json:"connected"`
	// Scopes are the scopes the provider granted.
	Scopes []string `json:"scopes"`
	// ExpiresAt is the access token's expiry, RFC 3339; absent when unknown.
	ExpiresAt string `json:"expires_at,omitempty"`
}

// NeedsConnection is a decision's request that the caller connect a
// provider first: the service answers with a URL-mode elicitation (MCP
// 2025-11-25 -32042, 2026-07-28 input_required) instead of forwarding.
type NeedsConnection struct {
	// Provider is the configured provider's name.
	Provider string `json:"provider"`
	// Scopes are the scopes the connection must grant (may be empty).
	Scopes []string `json:"scopes"`
}

// maxConnections bounds a decision's connections list and a scope list.
const maxConnections = 16

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// asNeedsConnection decodes needs_connection strictly.
func asNeedsConnection(v ast.Value) (*NeedsConnection, error) {
	n := &NeedsConnection{Scopes: []string{}}
	err := asObject(v, map[string]func(ast.Value) error{
		"provider": func(v ast.Value) (err error) {
			n.Provider, err = asProvider(v)
			return err
		},
		"scopes": func(v ast.Value) (err error) {
			n.Scopes, err = asScopeList(v)
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	if n.Provider == "" {
		return nil, errors.New("provider is missing")
	}
	return n, nil
}

// asConnections decodes the decision's connections: the providers whose
// credentials go upstream with an allowed request.
func asConnections(v ast.Value) ([]string, error) {
	arr, ok := v.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("is %s; want array", ast.ValueName(v))
	}
	if arr.Len() > maxConnections {
		return nil, fmt.Errorf("has %d entries, at most %d", arr.Len(), maxConnections)
	}
	out := make([]string, 0, arr.Len())
	for i := range arr.Len() {
		p, err := asProvider(arr.Elem(i).Value)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func asProvider(v ast.Value) (string, error) {
	s, err := asString(v, 63)
	if err != nil {
		return "", err
	}
	if !providerName.MatchString(s) {
		return "", fmt.Errorf("%q is not a provider name", s)
	}
	return s, nil
}

func asScopeList(v ast.Value) ([]string, error) {
	arr, ok := v.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("is %s; want array", ast.ValueName(v))
	}
	if arr.Len() > maxConnections*4 {
		return nil, fmt.Errorf("has %d scopes, at most %d", arr.Len(), maxConnections*4)
	}
	out := make([]string, 0, arr.Len())
	for i := range arr.Len() {
		s, err := asString(arr.Elem(i).Value, 256)
		if err != nil || s == "" || strings.Contains(s, " ") || !isScope(s) {
			return nil, fmt.Errorf("[%d] is not a scope", i)
		}
		out = append(out, s)
	}
	return out, nil
}
