package video_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/videoquota/videoquota/video/videotest"
)

// TestJoinTokenChurn: 8 goroutines mint tokens for 10 ad-hoc Room names,
// connect with each at once, and some leave; Reconciles run meanwhile;
// callbacks are duplicated and reordered, never dropped. Once the callbacks
// are flushed, every token having been used, nothing is pending and the
// holdings are the emulator's, with no further Reconcile.
func TestJoinTokenChurn(t *testing.T) {
	t.Parallel()
	e := newCBEnv(t, churnOptions(videotest.Faults{CallbackDuplicateRate: 0.1, CallbackReorderRate: 0.2}), nil)
	ctx, cancel := context.WithCancel(context.Background())
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for ctx.Err() == nil {
			_, _ = e.vq.Reconcile(ctx)
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var connectFails int
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(7, uint64(w)))
			for i := range 40 {
				name := fmt.Sprintf("tok-%d", r.IntN(10))
				id := fmt.Sprintf("u%d-%d", w, i)
				tok, err := e.vq.JoinToken(context.Background(), name, id)
				if err != nil {
					t.Errorf("JoinToken: %v", err)
					return
				}
				if _, err := e.srv.ConnectWithToken(tok, name); err != nil {
					mu.Lock()
					connectFails++
					mu.Unlock()
					continue
				}
				if r.IntN(10) < 9 {
					_ = e.srv.Disconnect(name, id)
				}
			}
		}()
	}
	wg.Wait()
	e.flush(t)
	cancel()
	rwg.Wait()
	e.flush(t)
	u := e.vq.Usage()
	t.Logf("connect failures %d; usage rooms %d (pending %d) participants %d (pending %d); emulator %+v",
		connectFails, u.Rooms.Used, u.Rooms.Pending, u.Participants.Used, u.Participants.Pending, e.srv.Stats().RoomsNow)
	if m := e.ledgerMismatch(t); m != "" {
		t.Errorf("holdings differ: %s", m)
	}
	if connectFails == 0 && (u.Rooms.Pending != 0 || u.Participants.Pending != 0) {
		t.Errorf("every token was used and every callback delivered, yet pending rooms %d participants %d", u.Rooms.Pending, u.Participants.Pending)
	}
}
