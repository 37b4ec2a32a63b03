package policy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// TestSmokeHasItsOwnDeadline: the smoke query at activation is not bound by
// the per-request deadline, so a valid bundle activates even when that
// deadline is far too short for a cold evaluation; requests stay bound by it.
func TestSmokeHasItsOwnDeadline(t *testing.T) {
	b, err := LoadBundleDir("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Clock: fixedClock, Deadline: time.Nanosecond, Smoke: true})
	if err := e.Activate(context.Background(), b); err != nil {
		t.Fatalf("Activate with a 1 ns request deadline: %v", err)
	}
	_, err = e.Decide(context.Background(), toolsCall("search_issues", "analyst"))
	var d *denial.Error
	if !errors.As(err, &d) || d.Reason != denial.Deadline {
		t.Fatalf("Decide with a 1 ns deadline: %v; want a %s denial", err, denial.Deadline)
	}
}

// TestSmokeRefusesUndecidable: a bundle whose decision is undefined for the
// smoke input is refused, and the active revision stays.
func TestSmokeRefusesUndecidable(t *testing.T) {
	good := decisionBundle(t, `decision := {"allow": false, "reason": "policy_denied"}`)
	good.Manifest.Revision = "good"
	e := newEngine(t, Options{Smoke: true}, good)
	bad := decisionBundle(t, `decision := {"allow": false, "reason": "policy_denied"} if input.never`)
	bad.Manifest.Revision = "bad"
	if err := e.Activate(context.Background(), bad); err == nil {
		t.Fatal("a bundle with no decision for the smoke input was activated")
	}
	if got := e.Revision(); got != "good" {
		t.Fatalf("active revision %q; want good", got)
	}
}
