package policy

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// Engine starts none, and each evaluation's cancel watcher must end with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
