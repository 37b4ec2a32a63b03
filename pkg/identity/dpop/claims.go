package dpop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// maxIAT bounds iat (seconds since the epoch, year 2242) so that it always
// converts to a time.Time without overflow.
const maxIAT = 1 << 33

// claims are the DPoP proof claims a resource server checks (RFC 9449 §4.2).
type claims struct {
	jti   string
	htm   string
	htu   string
	ath   string
	nonce string
	iat   time.Time
}

// decodeClaims decodes the proof payload strictly: a single JSON object,
// member names matched case-sensitively, no duplicate checked member, jti,
// htm, htu, ath and nonce strings, iat a number. Other members are ignored.
func decodeClaims(payload []byte) (claims, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return claims{}, errors.New("dpop: claims are not a JSON object")
	}
	var cl claims
	var iat *float64
	seen := map[string]bool{}
	for dec.More() {
		name, err := memberName(dec)
		if err != nil {
			return claims{}, err
		}
		if seen[name] {
			return claims{}, fmt.Errorf("dpop: duplicate claim %q", name)
		}
		seen[name] = true
		if err := decodeMember(dec, name, &cl, &iat); err != nil {
			return claims{}, fmt.Errorf("dpop: claim %q: %w", name, err)
		}
	}
	if err := endOfObject(dec); err != nil {
		return claims{}, err
	}
	t, err := iatTime(iat)
	if err != nil {
		return claims{}, err
	}
	cl.iat = t
	return cl, nil
}

// memberName reads the next object member name.
func memberName(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("dpop: claims: %w", err)
	}
	name, ok := tok.(string)
	if !ok {
		return "", errors.New("dpop: claims: member name is not a string")
	}
	return name, nil
}

// decodeMember decodes the value of member name into cl (or iat), or skips
// it when the name is not one Check uses.
func decodeMember(dec *json.Decoder, name string, cl *claims, iat **float64) error {
	switch name {
	case "jti":
		return decodeString(dec, &cl.jti)
	case "htm":
		return decodeString(dec, &cl.htm)
	case "htu":
		return decodeString(dec, &cl.htu)
	case "ath":
		return decodeString(dec, &cl.ath)
	case "nonce":
		return decodeString(dec, &cl.nonce)
	case "iat":
		return dec.Decode(iat)
	default:
		var skip json.RawMessage
		return dec.Decode(&skip)
	}
}

// decodeString decodes a JSON string into dst; null and other types are
// errors.
func decodeString(dec *json.Decoder, dst *string) error {
	var s *string
	if err := dec.Decode(&s); err != nil {
		return err
	}
	if s == nil {
		return errors.New("null")
	}
	*dst = *s
	return nil
}

// endOfObject consumes the closing brace and checks nothing follows it.
func endOfObject(dec *json.Decoder) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return errors.New("dpop: claims object is not terminated")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("dpop: data after the claims object")
	}
	return nil
}

// iatTime converts iat (a JSON NumericDate, possibly fractional) to a time.
func iatTime(iat *float64) (time.Time, error) {
	if iat == nil {
		return time.Time{}, errors.New("dpop: iat missing")
	}
	v := *iat
	if math.IsNaN(v) || v < 0 || v > maxIAT {
		return time.Time{}, fmt.Errorf("dpop: iat %v out of range", v)
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}
