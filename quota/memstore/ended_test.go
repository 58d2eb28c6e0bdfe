package memstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/quota/storetest"
)

// TestSharedHandles: two clients of one in-process store (two Clients in one
// process) see one state, ended holdings included.
func TestSharedHandles(t *testing.T) {
	s := newMem(t)
	storetest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) { return s, s })
}

// TestEndedLapse: an ended holding is remembered for backend.EndedTTL on the
// store's clock, then forgotten: a Hold of it holds it again.
func TestEndedLapse(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := clockFunc(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := newMem(t, memstore.WithClock(clock))
	ctx := context.Background()
	b := &backend.Bounds{Limit: 10, Hysteresis: 1}
	const acct = "AC1"
	mustHold := func(key string, want bool) {
		t.Helper()
		c, err := s.Hold(ctx, acct, backend.Rooms, key, b, backend.EndedTTL*4)
		if err != nil {
			t.Fatal(err)
		}
		if c.Changed != want {
			t.Fatalf("Hold(%s) changed %v, want %v", key, c.Changed, want)
		}
	}
	mustHold("RM1", true)
	if _, err := s.Release(ctx, acct, backend.Rooms, "RM1", b); err != nil {
		t.Fatal(err)
	}
	advance(backend.EndedTTL - time.Second)
	mustHold("RM1", false)
	advance(time.Second)
	mustHold("RM1", true)
}

// TestEndedBound: at most backend.MaxEnded ended holdings are remembered per
// account and resource; past it the oldest are forgotten first.
func TestEndedBound(t *testing.T) {
	s := newMem(t)
	ctx := context.Background()
	const acct = "AC1"
	n := backend.MaxEnded + 10
	for i := range n {
		k := fmt.Sprintf("PA%032x", i)
		if _, err := s.Hold(ctx, acct, backend.Participants, k, nil, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Release(ctx, acct, backend.Participants, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range map[int]bool{0: true, 9: true, 10: false, n - 1: false} {
		c, err := s.Hold(ctx, acct, backend.Participants, fmt.Sprintf("PA%032x", i), nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c.Changed != want {
			t.Errorf("Hold of end %d of %d: changed %v, want %v (the oldest %d forgotten)", i, n, c.Changed, want, n-backend.MaxEnded)
		}
	}
	if got := memstore.EndedLen(s, acct, backend.Participants); got > backend.MaxEnded {
		t.Errorf("%d ended keys kept, want at most %d", got, backend.MaxEnded)
	}
}
