package connect

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StatePrefix starts every requestState this service issues; a requestState
// without it belongs to the upstream server and passes through untouched.
const StatePrefix = "mcp-authz.1."

// maxState bounds a requestState we try to open.
const maxState = 4096

// stateClaims is what a requestState binds: the principal, the client, the
// request (method and name) and an expiry.
type stateClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Cid      string `json:"cid"`
	Method   string `json:"m"`
	Name     string `json:"n"`
	Provider string `json:"p"`
	Exp      int64  `json:"exp"`
}

// RequestTarget is the request a requestState is issued for.
type RequestTarget struct {
	Method string
	Name   string
}

// SealState issues the AEAD-protected requestState of an input_required
// answer. It is never a source of authority: a retry is decided afresh,
// the state only has to match.
func (s *Service) SealState(b Binding, t RequestTarget) (string, error) {
	c := stateClaims{Iss: b.Issuer, Sub: b.Subject, Cid: b.ClientID, Method: t.Method, Name: t.Name,
		Provider: b.Provider, Exp: s.clock().Add(s.cfg.RequestStateTTL.D()).Unix()}
	pt, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("connect: request state: %w", err)
	}
	nonce := make([]byte, s.state.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("connect: request state nonce: %w", err)
	}
	sealed := s.state.Seal(nonce, nonce, pt, []byte(StatePrefix))
	return StatePrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// OwnsState reports whether a requestState was issued by this service.
func OwnsState(state string) bool { return strings.HasPrefix(state, StatePrefix) }

// CheckState verifies a requestState of ours against the retry: it must open,
// be unexpired, and name the same principal, client and request.
func (s *Service) CheckState(state, iss, sub, cid string, t RequestTarget) error {
	if len(state) > maxState || !OwnsState(state) {
		return errors.New("request state malformed")
	}
	raw, err := base64.RawURLEncoding.DecodeString(state[len(StatePrefix):])
	if err != nil || len(raw) < s.state.NonceSize() {
		return errors.New("request state malformed")
	}
	pt, err := s.state.Open(nil, raw[:s.state.NonceSize()], raw[s.state.NonceSize():], []byte(StatePrefix))
	if err != nil {
		return errors.New("request state does not verify")
	}
	var c stateClaims
	if err := json.Unmarshal(pt, &c); err != nil {
		return errors.New("request state malformed")
	}
	switch {
	case !s.clock().Before(time.Unix(c.Exp, 0)):
		return errors.New("request state expired")
	case c.Iss != iss || c.Sub != sub || c.Cid != cid:
		return errors.New("request state issued to another principal")
	case c.Method != t.Method || c.Name != t.Name:
		return errors.New("request state issued for another request")
	}
	return nil
}
