package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// TestQueuedWritesAfterEmptyRestart: Redis is killed (connections refused,
// not hung), what Twilio reports meanwhile is queued, and Redis comes back
// empty: once the queue is written back, Redis holds exactly what Twilio
// holds (the slots held before the kill, less the Room that ended while
// Redis was away, plus the one created then), without a reconcile.
func TestQueuedWritesAfterEmptyRestart(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to kill")
	}
	prefix := redistest.Prefix(t)
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix), redisstore.WithTimeout(200*time.Millisecond),
		redisstore.WithProbeInterval(50*time.Millisecond))
	t.Cleanup(func() { _ = s.Close() })
	b := &backend.Bounds{Limit: 6, Hysteresis: 1}
	ctx := context.Background()
	c := ledgerCheck{t, s, "AC1", b}
	c.hold("RM1")
	c.hold("RM2")
	c.hold("RM3")

	srv.Stop(t)
	for _, st := range []struct {
		op string
		fn func() error
	}{
		{"Release RM1", func() error { _, err := s.Release(ctx, "AC1", backend.Rooms, "RM1", b); return err }},
		{"Hold RM4", func() error { _, err := s.Hold(ctx, "AC1", backend.Rooms, "RM4", b, time.Hour); return err }},
		{"Hold RM5", func() error { _, err := s.Hold(ctx, "AC1", backend.Rooms, "RM5", b, time.Hour); return err }},
		{"Release RM5", func() error { _, err := s.Release(ctx, "AC1", backend.Rooms, "RM5", b); return err }},
		{"Release RM3", func() error { _, err := s.Release(ctx, "AC1", backend.Rooms, "RM3", b); return err }},
	} {
		if err := st.fn(); err != nil {
			t.Fatalf("%s with Redis down: %v, want it queued", st.op, err)
		}
	}
	srv.Restart(t)
	observer := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	deadline := time.Now().Add(10 * time.Second)
	for redisstore.QueueLen(s) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes still queued 10s after Redis came back", redisstore.QueueLen(s))
		}
		time.Sleep(10 * time.Millisecond) // the flusher tries every probe interval
	}
	ledgerCheck{t, observer, "AC1", b}.expect("RM2", "RM4")
	for _, k := range []string{"RM1", "RM3", "RM5"} {
		if h, err := observer.Holds(ctx, "AC1", backend.Rooms, k); err != nil || h {
			t.Errorf("Holds(%q) after the write-back = %v, %v; want false (it ended while Redis was away)", k, h, err)
		}
	}
}
