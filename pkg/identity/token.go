package identity

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// Authorization schemes, as reported in Principal.TokenType.
const (
	schemeBearer = "Bearer"
	schemeDPoP   = "DPoP"
)

// schemeOverhead is the most bytes a scheme and its spaces may add to a
// token before the early size check refuses the header.
const schemeOverhead = 16

// credential is a token and the scheme it was presented with.
type credential struct {
	scheme string
	token  string
}

// parseAuthorization extracts the single credential of a request: exactly
// one Authorization header, scheme Bearer or DPoP (case-insensitive,
// RFC 9110 section 11.1), then the token, within maxBytes.
func parseAuthorization(values []string, maxBytes int) (credential, error) {
	switch {
	case len(values) == 0:
		return credential{}, denial.WithDetail(denial.TokenMissing, detailNoToken, errors.New("no Authorization header"))
	case len(values) > 1:
		return credential{}, invalid(detailTwoAuthz, fmt.Errorf("%d Authorization headers", len(values)))
	case len(values[0]) > maxBytes+schemeOverhead:
		return credential{}, invalid(detailTooLarge, fmt.Errorf("authorization header of %d bytes", len(values[0])))
	}
	scheme, rest, ok := strings.Cut(values[0], " ")
	if !ok {
		return credential{}, invalid(detailBadAuthz, errors.New("no space after the scheme"))
	}
	switch {
	case strings.EqualFold(scheme, schemeBearer):
		scheme = schemeBearer
	case strings.EqualFold(scheme, schemeDPoP):
		scheme = schemeDPoP
	default:
		return credential{}, invalid(detailScheme, fmt.Errorf("scheme %.16q", scheme))
	}
	token := strings.TrimLeft(rest, " ")
	if len(token) > maxBytes {
		return credential{}, invalid(detailTooLarge, fmt.Errorf("token of %d bytes exceeds %d", len(token), maxBytes))
	}
	if err := checkCompact(token); err != nil {
		return credential{}, err
	}
	return credential{scheme: scheme, token: token}, nil
}

// checkCompact accepts only the JWS compact serialization: three non-empty
// base64url segments (no padding) separated by two dots.
func checkCompact(token string) error {
	switch {
	case token == "":
		return invalid(detailBadAuthz, errors.New("empty token"))
	case token[0] == '{':
		return invalid(detailJSONSerial, errors.New("token is JWS JSON serialization"))
	}
	switch n := strings.Count(token, "."); n {
	case 2:
	case 4:
		return invalid(detailJWE, errors.New("token has five segments (JWE)"))
	default:
		return invalid(detailSegments, fmt.Errorf("token has %d segments", n+1))
	}
	for seg := range strings.SplitSeq(token, ".") {
		if seg == "" || !isBase64URL(seg) {
			return invalid(detailMalformed, errors.New("segment is not unpadded base64url"))
		}
	}
	return nil
}

// isBase64URL reports whether s uses only the base64url alphabet.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// header is the part of a JWS protected header we act on.
type header struct {
	alg, kid, typ string
	crit          bool
	b64           bool
}

// parsed is a compact JWS split by jwx, signature not yet checked.
type parsed struct {
	hdr          header
	payload      []byte
	signature    []byte
	signingInput string
}

// parseJWS parses a compact token (already shape-checked) with jwx.
func parseJWS(token string) (*parsed, error) {
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return nil, invalid(detailMalformed, fmt.Errorf("parse JWS: %w", err))
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, invalid(detailMalformed, fmt.Errorf("%d signatures", len(sigs)))
	}
	h := sigs[0].ProtectedHeaders()
	_, crit := h.Get(jws.CriticalKey)
	_, b64 := h.Get("b64")
	p := &parsed{
		hdr:          header{alg: h.Algorithm().String(), kid: h.KeyID(), typ: h.Type(), crit: crit, b64: b64},
		payload:      msg.Payload(),
		signature:    sigs[0].Signature(),
		signingInput: token[:strings.LastIndexByte(token, '.')],
	}
	if b64 {
		// RFC 7797 unencoded payloads are not access tokens.
		return nil, invalid(detailHeader, errors.New("b64 header present"))
	}
	return p, nil
}

// checkHeader applies the issuer's header rules: allowlisted alg, no crit,
// and the required typ.
func (is *issuer) checkHeader(h header) error {
	if !is.algs[h.alg] {
		return invalid(detailAlg, fmt.Errorf("alg %.16q not allowed for issuer %q", h.alg, is.cfg.Issuer))
	}
	if h.crit {
		return invalid(detailCrit, errors.New("crit header present"))
	}
	if is.typ != "" && normaliseTyp(h.typ) != is.typ {
		return invalid(detailTyp, fmt.Errorf("typ %.32q, want %q", h.typ, is.typ))
	}
	return nil
}

// verifySignature checks the signature with the candidate keys (all of the
// issuer, all fitting alg) and returns the public key that verified it.
func verifySignature(p *parsed, keys []verifyKey) (any, error) {
	v, err := jws.NewVerifier(jwa.SignatureAlgorithm(p.hdr.alg))
	if err != nil {
		return nil, invalid(detailAlg, fmt.Errorf("verifier: %w", err))
	}
	var errs []error
	for _, k := range keys {
		err := v.Verify([]byte(p.signingInput), p.signature, k.raw)
		if err == nil {
			return k.raw, nil
		}
		errs = append(errs, err)
	}
	return nil, invalid(detailSignature, errors.Join(errs...))
}
