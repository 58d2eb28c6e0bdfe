package quota_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
)

// gatedStore is a MemoryStore whose operations on keys with a given prefix
// wait, after the store decided them, until the test opens the gate: a
// slow store that answers out of the order it decided in.
type gatedStore struct {
	*memstore.Store
	prefix string
	gate   chan struct{}
	inside chan struct{} // receives when a gated operation has been decided
}

func (s *gatedStore) wait(key string) {
	if strings.HasPrefix(key, s.prefix) {
		s.inside <- struct{}{}
		<-s.gate
	}
}

func (s *gatedStore) Reserve(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	c, err := s.Store.Reserve(ctx, account, res, key, b, ttl)
	s.wait(key)
	return c, err
}

func (s *gatedStore) Release(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds) (backend.Change, error) {
	c, err := s.Store.Release(ctx, account, res, key, b)
	s.wait(key)
	return c, err
}

// TestCrossingsInStoreOrder: a reservation crosses 50% rising, and its
// answer is slow; releases then cross it falling and answer first. The
// threshold func still sees rising, then falling: the order the store
// decided them in.
func TestCrossingsInStoreOrder(t *testing.T) {
	st := &gatedStore{Store: newMem(t), prefix: "slow", gate: make(chan struct{}), inside: make(chan struct{}, 1)}
	var mu sync.Mutex
	var got []bool
	l, err := quota.NewLedger(st, acct, quota.Limits{ConcurrentRooms: 10},
		quota.WithThresholds(func(e quota.Event) {
			mu.Lock()
			got = append(got, e.Rising)
			mu.Unlock()
		}, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := l.Reserve(ctx, quota.Rooms, k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.Reserve(ctx, quota.Rooms, "slow", time.Minute) }() // 5 of 10: rising
	<-st.inside
	for _, k := range []string{"a", "b"} { // 3 of 10: falling (hysteresis 1)
		if err := l.Release(ctx, quota.Rooms, k, quota.SourceLocal); err != nil {
			t.Fatal(err)
		}
	}
	close(st.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closeAll(l)
	if len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("delivered rising=%v, want [true false]", got)
	}
}

// TestTwilioRepeatNotDelivered: Twilio's 53121 for a level the ledger
// already reported rising is dropped; one that comes first is delivered,
// and the store's rising crossing after it is not delivered again; the
// falling one is.
func TestTwilioRepeatNotDelivered(t *testing.T) {
	twilio := quota.Event{Resource: quota.Rooms, Level: 0.7, Rising: true, Code: quota.CodeApproachingQuota, Source: quota.SourceTwilio}
	run := func(t *testing.T, twilioFirst bool) []quota.Event {
		var mu sync.Mutex
		var got []quota.Event
		l, err := quota.NewLedger(newMem(t), acct, quota.Limits{ConcurrentRooms: 10},
			quota.WithThresholds(func(e quota.Event) {
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if twilioFirst {
			l.Notify(twilio)
		}
		for _, k := range []string{"1", "2", "3", "4", "5", "6", "7"} {
			if err := l.Reserve(ctx, quota.Rooms, k, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if !twilioFirst {
			l.Notify(twilio)
		}
		for _, k := range []string{"1", "2"} {
			if err := l.Release(ctx, quota.Rooms, k, quota.SourceLocal); err != nil {
				t.Fatal(err)
			}
		}
		closeAll(l)
		return got
	}
	t.Run("ledger first", func(t *testing.T) {
		got := run(t, false)
		if len(got) != 2 || !got[0].Rising || got[0].Source != quota.SourceLocal || got[1].Rising {
			t.Fatalf("events %+v, want the ledger's rising then falling only", got)
		}
	})
	t.Run("twilio first", func(t *testing.T) {
		got := run(t, true)
		if len(got) != 2 || !got[0].Rising || got[0].Source != quota.SourceTwilio || got[1].Rising {
			t.Fatalf("events %+v, want Twilio's rising then the ledger's falling only", got)
		}
	})
}

// TestTwilioRepeatFromAnotherClient: two Ledgers share a store, as two
// replicas of a service do. The first's reservations cross 70% and it
// delivers the rising crossing; Twilio's 53121 then reaches the second
// (the Debugger webhook goes to any replica) with the store's usage, and
// is not a second rising event there. A 53121 that comes while the store's
// usage is below the level (to a third) is delivered.
func TestTwilioRepeatFromAnotherClient(t *testing.T) {
	store := newMem(t)
	var mu sync.Mutex
	got := map[string][]quota.Event{}
	ledger := func(name string) *quota.Ledger {
		l, err := quota.NewLedger(store, acct, quota.Limits{ConcurrentRooms: 10},
			quota.WithThresholds(func(e quota.Event) {
				mu.Lock()
				got[name] = append(got[name], e)
				mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b, c := ledger("a"), ledger("b"), ledger("c")
	ctx := context.Background()
	twilio := func(l *quota.Ledger) {
		used, _, err := l.Used(ctx, quota.Rooms)
		if err != nil {
			t.Fatal(err)
		}
		l.Notify(quota.Event{Resource: quota.Rooms, Used: used, Limit: 10, Level: 0.7, Rising: true,
			Code: quota.CodeApproachingQuota, Source: quota.SourceTwilio})
	}
	twilio(b) // usage 0: Twilio's word is all there is
	for _, k := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		if err := a.Reserve(ctx, quota.Rooms, k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"1", "2"} { // a falls: b's next 53121 is new
		if err := a.Release(ctx, quota.Rooms, k, quota.SourceLocal); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"1", "2"} { // a rises again
		if err := a.Reserve(ctx, quota.Rooms, k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	twilio(c) // usage 7 of 10: a delivered this crossing
	closeAll(a, b, c)
	mu.Lock()
	defer mu.Unlock()
	if ev := got["a"]; len(ev) != 3 || !ev[0].Rising || ev[1].Rising || !ev[2].Rising || ev[2].Source != quota.SourceLocal {
		t.Fatalf("a's events %+v, want its rising, falling, rising", ev)
	}
	if ev := got["b"]; len(ev) != 1 || ev[0].Source != quota.SourceTwilio || ev[0].Used != 0 {
		t.Fatalf("b's events %+v, want only the 53121 that came at usage 0", ev)
	}
	if ev := got["c"]; len(ev) != 0 {
		t.Fatalf("c's events %+v, want none: the 53121 repeats a's crossing", ev)
	}
}

// TestRisePointNoOverflow: no limit, however large, makes a level rise
// before it is reached.
func TestRisePointNoOverflow(t *testing.T) {
	for _, tc := range []struct {
		level float64
		limit int
		want  int
	}{
		{1.0, math.MaxInt, math.MaxInt},
		{0.7, math.MaxInt, int(math.Ceil(0.7 * float64(math.MaxInt)))},
		{1.0, 10, 10},
		{0.7, 10, 7},
		{0.01, 10, 1},
		{1.0, 1, 1},
	} {
		got := backend.RisePoint(tc.level, tc.limit)
		if tc.limit == math.MaxInt && tc.level < 1 {
			if got <= 1 || got > tc.limit {
				t.Errorf("RisePoint(%v, MaxInt) = %d, want near %d", tc.level, got, tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("RisePoint(%v, %d) = %d, want %d", tc.level, tc.limit, got, tc.want)
		}
	}
	var fired bool
	l, err := quota.NewLedger(newMem(t), acct, quota.Limits{ConcurrentRooms: math.MaxInt},
		quota.WithThresholds(func(quota.Event) { fired = true }, 1.0))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Reserve(context.Background(), quota.Rooms, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	closeAll(l)
	if fired {
		t.Fatal("level 1.0 of MaxInt fired after one reservation")
	}
}

// TestLedgerClosed: after Close every operation fails with ErrClosed and
// changes nothing, a ReserveWait waiting for capacity wakes with ErrClosed,
// and Close from a ThresholdFunc returns.
func TestLedgerClosed(t *testing.T) {
	st := newMem(t)
	closed := make(chan struct{})
	var l *quota.Ledger
	l, err := quota.NewLedger(st, acct, quota.Limits{ConcurrentRooms: 1},
		quota.WithThresholds(func(quota.Event) {
			l.Close() // from the event goroutine: must not wait for itself
			close(closed)
		}, 1.0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waiting := make(chan error, 1)
	if err := l.Reserve(ctx, quota.Rooms, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	go func() { waiting <- l.ReserveWait(ctx, quota.Rooms, "b", time.Minute) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close from a ThresholdFunc did not return")
	}
	if err := <-waiting; !errors.Is(err, quota.ErrClosed) {
		t.Fatalf("ReserveWait woken by Close: %v, want ErrClosed", err)
	}
	l.Close() // again, from the test goroutine: harmless
	for name, op := range map[string]func() error{
		"Reserve": func() error { return l.Reserve(ctx, quota.Rooms, "c", time.Minute) },
		"Commit":  func() error { return l.Commit(ctx, quota.Rooms, "a", "RM1", quota.SourceLocal) },
		"Hold":    func() error { return l.Hold(ctx, quota.Rooms, "RM2", quota.SourceLocal) },
		"Release": func() error { return l.Release(ctx, quota.Rooms, "a", quota.SourceLocal) },
		"Sync":    func() error { _, _, err := l.Sync(ctx, quota.Rooms, nil, 0); return err },
	} {
		if err := op(); !errors.Is(err, quota.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if used, _, _ := st.Used(ctx, acct, backend.Rooms); used != 1 {
		t.Fatalf("store used %d after Close, want the 1 reserved before", used)
	}
}

// TestReserveWaitWokenByRelease: a release through the same Ledger wakes a
// ReserveWait at once, not at its next poll (time does not move in the
// bubble until every goroutine is blocked).
func TestReserveWaitWokenByRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := quota.NewLedger(newMem(t), acct, quota.Limits{ConcurrentRooms: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ctx := context.Background()
		if err := l.Reserve(ctx, quota.Rooms, "a", time.Hour); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- l.ReserveWait(ctx, quota.Rooms, "b", time.Hour) }()
		synctest.Wait() // the waiter is blocked
		if err := l.Release(ctx, quota.Rooms, "a", quota.SourceLocal); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("ReserveWait still waiting after a release: not woken")
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("woken after %s of bubble time, want at once", d)
		}
	})
}
