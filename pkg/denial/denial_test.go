package denial

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorMatchesByReason(t *testing.T) {
	cause := errors.New("jwx: token is expired")
	err := fmt.Errorf("verify: %w", WithDetail(TokenInvalid, "token expired", cause))
	if !errors.Is(err, New(TokenInvalid, nil)) {
		t.Errorf("errors.Is(%v, TokenInvalid) = false; want true", err)
	}
	if errors.Is(err, New(TokenMissing, nil)) {
		t.Errorf("errors.Is(%v, TokenMissing) = true; want false", err)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, cause) = false; want Unwrap to reach the cause", err)
	}
	if got := ReasonOf(err); got != TokenInvalid {
		t.Errorf("ReasonOf(%v) = %q; want %q", err, got, TokenInvalid)
	}
	if got := ReasonOf(errors.New("plain")); got != Internal {
		t.Errorf("ReasonOf(plain error) = %q; want %q: an unclassified failure is internal", got, Internal)
	}
	if got, want := New(PolicyError, nil).Error(), "policy_error"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}
