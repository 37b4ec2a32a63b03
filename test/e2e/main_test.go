package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every app
// started here is shut down, and with it every listener, cache refresher,
// drift watcher and health follower it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
