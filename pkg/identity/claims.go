package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// maxNumericDate is 9999-12-31T23:59:59Z; later dates are clamped to it.
const maxNumericDate = 253402300799

// decodeClaims decodes a JWT claims set: one JSON object, nothing after it.
// Numbers stay json.Number so large integers keep their precision.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, invalid(detailMalformedClaims, fmt.Errorf("decode claims: %w", err))
	}
	if claims == nil {
		return nil, invalid(detailMalformedClaims, errors.New("claims are not an object"))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid(detailMalformedClaims, errors.New("data after the claims object"))
	}
	return claims, nil
}

// stringClaim returns claims[name] when it is a string; absent is "", ok.
func stringClaim(claims map[string]any, name string) (string, error) {
	v, present := claims[name]
	if !present {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid(detailMalformedClaims, fmt.Errorf("claim %s is %T, not a string", name, v))
	}
	return s, nil
}

// stringsClaim returns claims[name] as a list: a string is one element,
// a list must hold only strings. Absent is nil.
func stringsClaim(claims map[string]any, name, detail string) ([]string, error) {
	switch v := claims[name].(type) {
	case nil:
		if _, present := claims[name]; present {
			return nil, invalid(detail, fmt.Errorf("claim %s is null", name))
		}
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, invalid(detail, fmt.Errorf("claim %s holds a %T", name, e))
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, invalid(detail, fmt.Errorf("claim %s is %T", name, v))
	}
}

// numericDate returns claims[name] as a time (RFC 7519 NumericDate).
// present is false when the claim is absent.
func numericDate(claims map[string]any, name string) (t time.Time, present bool, err error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, true, invalid(detailMalformedClaims, fmt.Errorf("claim %s is %T, not a number", name, v))
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 {
		return time.Time{}, true, invalid(detailMalformedClaims, fmt.Errorf("claim %s is not a valid NumericDate", name))
	}
	f = min(f, maxNumericDate)
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// lifetime is the checked validity window of a token.
type lifetime struct {
	expires time.Time
}

// checkTimes applies exp (required, > 0, in the future), nbf and iat with
// skew at now.
func checkTimes(claims map[string]any, now time.Time, skew time.Duration) (lifetime, error) {
	exp, ok, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return lifetime{}, err
	case !ok:
		return lifetime{}, invalid(detailNoExp, errors.New("exp absent"))
	case exp.Unix() <= 0:
		return lifetime{}, invalid(detailExpired, errors.New("exp is not positive"))
	case !now.Before(exp.Add(skew)):
		return lifetime{}, invalid(detailExpired, fmt.Errorf("expired at %s", exp.Format(time.RFC3339)))
	}
	nbf, ok, err := numericDate(claims, "nbf")
	switch {
	case err != nil:
		return lifetime{}, err
	case ok && now.Before(nbf.Add(-skew)):
		return lifetime{}, invalid(detailNotYet, fmt.Errorf("nbf %s", nbf.Format(time.RFC3339)))
	}
	iat, ok, err := numericDate(claims, "iat")
	switch {
	case err != nil:
		return lifetime{}, err
	case ok && iat.After(now.Add(skew)):
		return lifetime{}, invalid(detailIATFuture, fmt.Errorf("iat %s", iat.Format(time.RFC3339)))
	}
	return lifetime{expires: exp}, nil
}

// checkAudience requires aud (a string or a list) to contain resource and,
// unless multi, to name nothing else: a token valid at two hops can be
// replayed by one to the other (the confused deputy a per-hop audience
// closes).
func checkAudience(claims map[string]any, resource string, multi bool) ([]string, error) {
	aud, err := stringsClaim(claims, "aud", detailAudience)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(aud, resource) {
		return nil, invalid(detailAudience, fmt.Errorf("aud does not contain %q", resource))
	}
	if !multi && slices.ContainsFunc(aud, func(a string) bool { return a != resource }) {
		return nil, invalid(detailMultiAudience, fmt.Errorf("aud lists %d values besides %q", len(aud)-1, resource))
	}
	return aud, nil
}

// subject returns sub, which every access token must carry as a non-empty
// string (RFC 9068 section 2.2): a token that names no user cannot be
// user-scoped, rate-limited or audited.
func subject(claims map[string]any) (string, error) {
	v, present := claims["sub"]
	if !present {
		return "", invalid(detailNoSub, errors.New("sub absent"))
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", invalid(detailNoSub, fmt.Errorf("sub is %T, not a non-empty string", v))
	}
	return s, nil
}

// requireClaims checks the claims an issuer requires beyond the four
// always required (RFC 9068 section 2.2): client_id and jti as non-empty
// strings, iat present (its value is checked by checkTimes).
func requireClaims(claims map[string]any, names []string) error {
	for _, name := range names {
		v, present := claims[name]
		switch name {
		case "client_id", "jti":
			if s, ok := v.(string); !ok || s == "" {
				return invalid(detailRequiredClaim(name), fmt.Errorf("required claim %s is absent or not a non-empty string", name))
			}
		case "iat":
			if !present {
				return invalid(detailRequiredClaim(name), errors.New("required claim iat is absent"))
			}
		}
	}
	return nil
}

// rolesOf reads the roles claim in its one configured shape. Any other
// shape yields no roles and a non-nil error naming what was wrong (a
// token carrying it stays valid: roles only ever grant).
func rolesOf(claims map[string]any, name, format string) ([]string, error) {
	v, present := claims[name]
	if !present {
		return nil, nil
	}
	switch format {
	case RolesString:
		if s, ok := v.(string); ok && s != "" {
			return []string{s}, nil
		}
	case RolesSpaceSeparated:
		if s, ok := v.(string); ok {
			return strings.Fields(s), nil
		}
	default:
		if list, ok := v.([]any); ok {
			return stringList(list, name)
		}
	}
	return nil, fmt.Errorf("claim %s is %s, want the %s format", name, jsonKind(v), format)
}

// stringList converts a JSON array holding only strings.
func stringList(list []any, name string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("claim %s holds a %s", name, jsonKind(e))
		}
		out = append(out, s)
	}
	return out, nil
}

// jsonKind names the JSON type of a decoded value, for logs.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// scopes returns scope (space-separated) or else scp (a string or a list).
func scopes(claims map[string]any) ([]string, error) {
	if _, ok := claims["scope"]; ok {
		s, err := stringClaim(claims, "scope")
		return strings.Fields(s), err
	}
	list, err := stringsClaim(claims, "scp", detailMalformedClaims)
	if len(list) == 1 {
		return strings.Fields(list[0]), err
	}
	return list, err
}

// confirmation returns cnf.jkt. A cnf with any other member (an mTLS
// binding, a raw key) cannot be checked here and is refused.
func confirmation(claims map[string]any) (string, error) {
	v, present := claims["cnf"]
	if !present {
		return "", nil
	}
	cnf, ok := v.(map[string]any)
	if !ok {
		return "", invalid(detailCnf, fmt.Errorf("cnf is %T", v))
	}
	jkt, ok := cnf["jkt"].(string)
	if !ok || jkt == "" || len(cnf) != 1 {
		return "", invalid(detailCnf, errors.New("cnf is not exactly {jkt}"))
	}
	return jkt, nil
}
