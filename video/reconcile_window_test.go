package video_test

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

// TestReconcileKeepsChangesDuringSync: a change that a source applies in
// full while a Reconcile's Sync is at the store (after the listing and the
// sets it computed) stands once the Reconcile returns, in the ledger and in
// the model, with every callback delivered and no fault injected: a
// Participant that left or a Room completed stays ended and released; a
// Participant that joined or a Room this Client created stays in progress
// and held, and its later events are applied.
func TestReconcileKeepsChangesDuringSync(t *testing.T) {
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
