package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every app
// started here is shut down, and with it every listener, cache refresher,
// drift watcher and health follower it started.
func TestMain(m *testing.M) {
	// lumberjack v2.2.1 starts one mill goroutine per file logger and never
	// stops it (natefinch/lumberjack#56): one per decision-log file sink,
	// bounded, so it is the one goroutine allowed to outlive a test.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"))
}
