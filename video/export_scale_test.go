package video

import (
	"context"
	"time"
)

// SetSleep makes c's reconciliation wait with fn (a fake clock's Advance,
// say) instead of timers. Call it before c reconciles. It exists for the
// package's tests.
func SetSleep(c *Client, fn func(context.Context, time.Duration) error) { c.model().sleepFn = fn }
