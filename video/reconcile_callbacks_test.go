package video_test

import (
	"context"
	"sync"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestReconcileDuringCallbacks: the churn of TestCallbacksKeepLedgerTrue
// (duplicated and reordered callbacks, none dropped) while Reconciles run
// back to back. A Reconcile never undoes a callback: once the callbacks are
// flushed and the last Reconcile has returned, the ledger equals the
// emulator with no further Reconcile, and nothing is pending.
func TestReconcileDuringCallbacks(t *testing.T) {
	t.Parallel()
	for i := range 3 {
		e := newCBEnv(t, churnOptions(videotest.Faults{CallbackDuplicateRate: 0.1, CallbackReorderRate: 0.2}), nil)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		runs := 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := e.vq.Reconcile(ctx); err == nil {
					runs++
				}
			}
		}()
		churn(t, e)
		e.flush(t)
		cancel()
		wg.Wait()
		if m := e.ledgerMismatch(t); m != "" {
			t.Errorf("round %d (%d reconciles): ledger differs after callbacks and concurrent reconciles: %s", i, runs, m)
		}
		if u := e.vq.Usage(); u.Rooms.Pending != 0 || u.Participants.Pending != 0 {
			t.Errorf("round %d: pending rooms %d participants %d", i, u.Rooms.Pending, u.Participants.Pending)
		}
		_ = quota.Rooms
	}
}
