package video_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// Client the tests make is closed, and Close leaves nothing running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
