package video_test

// The adversarial_*_test.go files are regression tests from an adversarial
// review of the model: each test's comment describes the failure it caught
// (in the present tense of the code it was written against); the code now
// prevents each one, and the test asserts the property that failed.

import (
	"context"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// syncGateStore is a MemoryStore whose first Sync of Rooms announces itself
// on inside and waits for gate to close: a shared store slow to answer the
// reconciliation's Sync.
type syncGateStore struct {
	*memstore.Store
	inside chan struct{}
	gate   chan struct{}
	armed  chan struct{} // closed to arm the gate
	once   bool
}

func (s *syncGateStore) Sync(ctx context.Context, account string, res backend.Resource, keys []string, b *backend.Bounds, ttl, keep time.Duration) (backend.Change, int, int, error) {
	select {
	case <-s.armed:
		if res == backend.Rooms && !s.once {
			s.once = true
			s.inside <- struct{}{}
			<-s.gate
		}
	default:
	}
	return s.Store.Sync(ctx, account, res, keys, b, ttl, keep)
}

// TestAdversarialReconcileAdoptOverridesWindow: Reconcile has listed the
// account and computed its sets (snap); while its Sync is at the store, a
// source changes something and is applied in full. adoptLocked then writes
// the listing over the model, and replay (the window entries after snap)
// asks the model, which now says what the listing said, so the change is
// undone in the ledger and the model:
//   - a Participant that left (a Room completed) is marked in progress again
//     and held: a phantom until the next Reconcile;
//   - a Participant that joined (a Room this Client just created) is marked
//     ended and released: undercounted, and its later events are stale.
//
// Every callback is delivered; no fault is injected.
func TestAdversarialReconcileAdoptOverridesWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(e *cbEnv, sid string) error
	}{
		{"participant leaves", func(e *cbEnv, sid string) error { return e.srv.Disconnect(sid, "alice") }},
		{"participant joins", func(e *cbEnv, sid string) error { _, err := e.srv.Connect(sid, "bob"); return err }},
		{"this Client creates a Room", func(e *cbEnv, sid string) error {
			_, err := e.vq.CreateRoom(context.Background(), room("second"))
			return err
		}},
		{"room completed", func(e *cbEnv, sid string) error {
			_, err := e.vq.UpdateRoom(context.Background(), sid, completed())
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &syncGateStore{Store: memStore(t), inside: make(chan struct{}, 1), gate: make(chan struct{}), armed: make(chan struct{})}
			e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) {}, nil, video.WithStore(st))
			ctx := context.Background()
			r, err := e.vq.CreateRoom(ctx, room("standup").SetStatusCallback(e.statusURL()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.Connect(*r.Sid, "alice"); err != nil {
				t.Fatal(err)
			}
			e.flush(t)
			close(st.armed)
			done := make(chan error, 1)
			go func() { _, err := e.vq.Reconcile(ctx); done <- err }()
			<-st.inside // listed, sets computed; Sync at the store
			if err := tc.end(e, *r.Sid); err != nil {
				t.Fatal(err)
			}
			e.flush(t) // the callback is applied in full
			close(st.gate)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			e.flush(t)
			stats := e.srv.Stats()
			rooms, parts := mustUsed(t, e.vq, quota.Rooms), mustUsed(t, e.vq, quota.Participants)
			t.Logf("ledger rooms %d participants %d; emulator rooms %d participants %d", rooms, parts, stats.RoomsNow, stats.ParticipantsNow)
			if m := e.ledgerMismatch(t); m != "" {
				t.Errorf("every callback delivered, yet after the Reconcile: %s", m)
			}
		})
	}
}
