package policy

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Bounds on what a decision may carry; values come from policy authors and
// end up in HTTP headers and Envoy metadata.
const (
	maxReasonLen      = 64
	maxHeaders        = 64
	maxHeaderValueLen = 8 << 10
	maxMessageLen     = 1 << 10
	maxMetadataDepth  = 32
	maxRateLimits     = 16
	maxLimitKeyLen    = 1024
	maxLimitWindow    = 366 * 24 * 3600
	maxLimitQuota     = 1_000_000_000_000
	maxLimitBurst     = 1_000_000_000
	minHTTPStatus     = 400
	maxHTTPStatus     = 599
)

// decodeDecision decodes a decision strictly: an object with a boolean
// allow, a snake_case reason and only the known optional fields, each of the
// right type. Anything else is an error (and so a deny).
func decodeDecision(v ast.Value) (Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Decision{}, fmt.Errorf("decision is %s; want object", ast.ValueName(v))
	}
	var d Decision
	var hasAllow, hasReason bool
	err := obj.Iter(func(k, val *ast.Term) error {
		name, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("decision has a %s key; want string", ast.ValueName(k.Value))
		}
		hasAllow = hasAllow || name == "allow"
		hasReason = hasReason || name == "reason"
		if err := d.setField(string(name), val.Value); err != nil {
			return fmt.Errorf("decision.%s: %w", name, err)
		}
		return nil
	})
	switch {
	case err != nil:
		return Decision{}, err
	case !hasAllow:
		return Decision{}, errors.New("decision.allow is missing")
	case !hasReason:
		return Decision{}, errors.New("decision.reason is missing")
	}
	return d, nil
}

// setField decodes one top-level field into d.
func (d *Decision) setField(name string, v ast.Value) error {
	var err error
	switch name {
	case "allow":
		d.Allow, err = asBool(v)
	case "reason":
		d.Reason, err = asReason(v)
	case "http_status":
		d.HTTPStatus, err = asInt(v, minHTTPStatus, maxHTTPStatus)
	case "jsonrpc_error":
		d.RPCError, err = asRPCError(v)
	case "challenge":
		d.Challenge, err = asChallenge(v)
	case "upstream_headers":
		d.UpstreamHeaders, err = asHeaders(v)
	case "response_headers":
		d.ResponseHeaders, err = asHeaders(v)
	case "dynamic_metadata":
		d.DynamicMetadata, err = asMetadata(v)
	case "upstream_token":
		d.UpstreamToken, err = asUpstreamToken(v)
	case "remediation":
		d.Remediation, err = asRemediation(v)
	case "needs_connection":
		d.NeedsConnection, err = asNeedsConnection(v)
	case "connections":
		d.Connections, err = asConnections(v)
	case "rate_limits":
		d.RateLimits, err = asRateLimits(v)
	default:
		err = errors.New("unknown field")
	}
	return err
}

func asBool(v ast.Value) (bool, error) {
	b, ok := v.(ast.Boolean)
	if !ok {
		return false, fmt.Errorf("is %s; want boolean", ast.ValueName(v))
	}
	return bool(b), nil
}

func asString(v ast.Value, maxLen int) (string, error) {
	s, ok := v.(ast.String)
	if !ok {
		return "", fmt.Errorf("is %s; want string", ast.ValueName(v))
	}
	if len(s) > maxLen {
		return "", fmt.Errorf("is %d bytes; want at most %d", len(s), maxLen)
	}
	return string(s), nil
}

// asReason accepts ^[a-z][a-z0-9_]{0,63}$.
func asReason(v ast.Value) (string, error) {
	s, err := asString(v, maxReasonLen)
	if err != nil {
		return "", err
	}
	if !isReason(s) {
		return "", fmt.Errorf("%q is not snake_case ^[a-z][a-z0-9_]{0,63}$", s)
	}
	return s, nil
}

func isReason(s string) bool {
	if s == "" || len(s) > maxReasonLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// asInt accepts an integral number within [lo, hi].
func asInt(v ast.Value, lo, hi int) (int, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("is %s; want number", ast.ValueName(v))
	}
	i, ok := n.Int()
	if !ok {
		return 0, fmt.Errorf("%s is not an integer", n)
	}
	if i < lo || i > hi {
		return 0, fmt.Errorf("%d is outside [%d, %d]", i, lo, hi)
	}
	return i, nil
}

// asObject iterates an object with string keys, refusing unknown fields.
func asObject(v ast.Value, fields map[string]func(ast.Value) error) error {
	obj, ok := v.(ast.Object)
	if !ok {
		return fmt.Errorf("is %s; want object", ast.ValueName(v))
	}
	return obj.Iter(func(k, val *ast.Term) error {
		name, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("has a %s key; want string", ast.ValueName(k.Value))
		}
		set, ok := fields[string(name)]
		if !ok {
			return fmt.Errorf("%s: unknown field", name)
		}
		if err := set(val.Value); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

func asRPCError(v ast.Value) (*RPCError, error) {
	var e RPCError
	var hasCode, hasMessage bool
	err := asObject(v, map[string]func(ast.Value) error{
		"code": func(v ast.Value) (err error) {
			hasCode = true
			e.Code, err = asInt(v, math.MinInt32, math.MaxInt32)
			return err
		},
		"message": func(v ast.Value) (err error) {
			hasMessage = true
			e.Message, err = asString(v, maxMessageLen)
			return err
		},
	})
	switch {
	case err != nil:
		return nil, err
	case !hasCode:
		return nil, errors.New("code is missing")
	case !hasMessage:
		return nil, errors.New("message is missing")
	}
	return &e, nil
}

func asChallenge(v ast.Value) (*Challenge, error) {
	var c Challenge
	err := asObject(v, map[string]func(ast.Value) error{
		"scheme":            schemeField(&c.Scheme),
		"error":             quotedField(&c.Error, isErrorCode),
		"error_description": quotedField(&c.Description, isQuotable),
		"scope":             quotedField(&c.Scope, isScope),
	})
	if err != nil {
		return nil, err
	}
	if c.Error == "" {
		return nil, errors.New("error is missing")
	}
	return &c, nil
}

// schemeField decodes the challenge's auth scheme: Bearer or DPoP.
func schemeField(dst *string) func(ast.Value) error {
	return func(v ast.Value) error {
		s, err := asString(v, 8)
		if err != nil {
			return err
		}
		if s != "Bearer" && s != "DPoP" {
			return fmt.Errorf("scheme %q is neither Bearer nor DPoP", s)
		}
		*dst = s
		return nil
	}
}

// quotedField decodes a string that goes into a WWW-Authenticate
// quoted-string, checked by valid (RFC 6750 section 3).
func quotedField(dst *string, valid func(string) bool) func(ast.Value) error {
	return func(v ast.Value) error {
		s, err := asString(v, maxMessageLen)
		if err != nil {
			return err
		}
		if !valid(s) {
			return fmt.Errorf("%q has characters RFC 6750 does not allow", s)
		}
		*dst = s
		return nil
	}
}

// isQuotable: %x20-21 / %x23-5B / %x5D-7E (no '"', no '\\').
func isQuotable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// isErrorCode: a non-empty quotable string without spaces.
func isErrorCode(s string) bool { return s != "" && isQuotable(s) && !strings.Contains(s, " ") }

// isScope: empty, or space-separated scope tokens (%x21 / %x23-5B / %x5D-7E).
func isScope(s string) bool {
	if s == "" {
		return true
	}
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" || !isQuotable(tok) {
			return false
		}
	}
	return true
}

// asRateLimits decodes the rate_limits array: at most 16 limits, each a
// snake_case name, a bounded key and exactly one of rate or budget.
func asRateLimits(v ast.Value) ([]RateLimit, error) {
	arr, ok := v.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("is %s; want array", ast.ValueName(v))
	}
	if arr.Len() > maxRateLimits {
		return nil, fmt.Errorf("has %d limits; want at most %d", arr.Len(), maxRateLimits)
	}
	out := make([]RateLimit, 0, arr.Len())
	for i := range arr.Len() {
		l, err := asRateLimit(arr.Elem(i).Value)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, l)
	}
	return out, nil
}

func asRateLimit(v ast.Value) (RateLimit, error) {
	var l RateLimit
	err := asObject(v, map[string]func(ast.Value) error{
		"name": func(v ast.Value) (err error) { l.Name, err = asReason(v); return err },
		"key":  func(v ast.Value) (err error) { l.Key, err = asString(v, maxLimitKeyLen); return err },
		"rate": func(v ast.Value) (err error) { l.Rate, err = asRate(v); return err },
		"budget": func(v ast.Value) (err error) {
			l.Budget, err = asBudget(v)
			return err
		},
		"cost": func(v ast.Value) (err error) { l.Cost, err = asInt64(v, 0, maxLimitQuota); return err },
	})
	switch {
	case err != nil:
		return RateLimit{}, err
	case l.Name == "":
		return RateLimit{}, errors.New("name is missing")
	case (l.Rate == nil) == (l.Budget == nil):
		return RateLimit{}, errors.New("want exactly one of rate and budget")
	}
	return l, nil
}

func asRate(v ast.Value) (*Rate, error) {
	var r Rate
	err := asObject(v, map[string]func(ast.Value) error{
		"requests": func(v ast.Value) (err error) { r.Requests, err = asInt64(v, 1, maxLimitQuota); return err },
		"window":   func(v ast.Value) (err error) { r.Window, err = asInt64(v, 1, maxLimitWindow); return err },
		"burst":    func(v ast.Value) (err error) { r.Burst, err = asInt64(v, 0, maxLimitBurst); return err },
	})
	switch {
	case err != nil:
		return nil, err
	case r.Requests == 0 || r.Window == 0:
		return nil, errors.New("requests and window are required")
	case r.Requests > r.Window*1_000_000:
		return nil, errors.New("faster than one request per microsecond")
	}
	return &r, nil
}

func asBudget(v ast.Value) (*Budget, error) {
	var b Budget
	err := asObject(v, map[string]func(ast.Value) error{
		"units":  func(v ast.Value) (err error) { b.Units, err = asInt64(v, 1, maxLimitQuota); return err },
		"window": func(v ast.Value) (err error) { b.Window, err = asInt64(v, 1, maxLimitWindow); return err },
	})
	switch {
	case err != nil:
		return nil, err
	case b.Units == 0 || b.Window == 0:
		return nil, errors.New("units and window are required")
	}
	return &b, nil
}

func asInt64(v ast.Value, lo, hi int) (int64, error) {
	i, err := asInt(v, lo, hi)
	return int64(i), err
}
