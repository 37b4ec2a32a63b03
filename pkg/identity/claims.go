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

// checkAudience requires aud (a string or a list) to contain resource.
func checkAudience(claims map[string]any, resource string) ([]string, error) {
	aud, err := stringsClaim(claims, "aud", detailAudience)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(aud, resource) {
		return nil, invalid(detailAudience, fmt.Errorf("aud does not contain %q", resource))
	}
	return aud, nil
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
