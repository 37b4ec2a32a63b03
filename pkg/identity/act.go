package identity

import (
	"errors"
	"fmt"
)

// maxActDepth bounds the nesting of an act claim we walk: a chain is
// caller-controlled (inside a signed token), and nothing legitimate nests
// this deep.
const maxActDepth = 32

// detailAct is the client-safe detail of a malformed act or may_act claim.
const detailAct = "malformed delegation claim"

// Actor is one party of an RFC 8693 delegation chain (section 4.1 act,
// section 4.4 may_act): its identity claims only.
type Actor struct {
	// Subject is the actor's sub (a SPIFFE ID, a client id, a user).
	Subject string `json:"sub"`
	// Issuer is the actor's iss, when the claim names one.
	Issuer string `json:"iss,omitempty"`
	// ClientID is the actor's client_id, when the claim names one.
	ClientID string `json:"client_id,omitempty"`
}

// actChain returns the token's act claim as a list, outermost (the current
// actor of the token) first. Absent is nil; a member that is not an object
// with a string sub, or nesting past maxActDepth, is a malformed token.
func actChain(claims map[string]any) ([]Actor, error) {
	var out []Actor
	v, present := claims["act"]
	for present {
		if len(out) == maxActDepth {
			return nil, invalid(detailAct, fmt.Errorf("act nests deeper than %d", maxActDepth))
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, invalid(detailAct, fmt.Errorf("act is %T, not an object", v))
		}
		a, err := actorOf(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		v, present = obj["act"]
	}
	return out, nil
}

// mayAct returns the may_act claim (RFC 8693 section 4.4), nil when absent.
func mayAct(claims map[string]any) (*Actor, error) {
	v, present := claims["may_act"]
	if !present {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid(detailAct, fmt.Errorf("may_act is %T, not an object", v))
	}
	a, err := actorOf(obj)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// actorOf reads the identity claims of one act or may_act object.
func actorOf(obj map[string]any) (Actor, error) {
	var a Actor
	for _, f := range []struct {
		name string
		dst  *string
	}{{"sub", &a.Subject}, {"iss", &a.Issuer}, {"client_id", &a.ClientID}} {
		s, err := stringClaim(obj, f.name)
		if err != nil {
			return Actor{}, invalid(detailAct, err)
		}
		*f.dst = s
	}
	if a.Subject == "" {
		return Actor{}, invalid(detailAct, errors.New("actor without sub"))
	}
	return a, nil
}
