package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// TestLimitsInForceAfterRedisRestartedEmpty: Ledgers of one account in two
// processes (a store each), started with 5 and then 10 Rooms (a deploy
// raising the quota); both run. Redis restarts empty, losing the limits
// key. The Ledger started first learns the limits in force afresh: those
// of the Ledger started last (10), which still runs, not its own (5).
func TestLimitsInForceAfterRedisRestartedEmpty(t *testing.T) {
	rs := redistest.Start(t)
	if !rs.Own() {
		t.Skip("needs a redis-server of its own to restart")
	}
	prefix := redistest.Prefix(t)
	var mu sync.Mutex
	now := time.Now()
	clock := clockAt(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ledger := func(rooms int) *quota.Ledger {
		st := newStore(t, rs.Client(t), redisstore.WithPrefix(prefix))
		t.Cleanup(func() { _ = st.Close() })
		l, err := quota.NewLedger(st, "AC00000000000000000000000000000001", quota.Limits{ConcurrentRooms: rooms}, quota.WithClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		return l
	}
	ctx := context.Background()
	old := ledger(5)
	advance(time.Second)
	newer := ledger(10)
	for _, l := range []*quota.Ledger{old, newer, old} {
		advance(2 * time.Second) // past the age at which Used learns the limits again
		if _, _, err := l.Used(ctx, quota.Rooms); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := old.Limit(quota.Rooms), newer.Limit(quota.Rooms); a != 10 || b != 10 {
		t.Fatalf("before the restart the Ledgers enforce %d and %d Rooms, want 10 and 10", a, b)
	}
	rs.Restart(t)
	advance(2 * time.Second) // past the age at which Used learns the limits again
	if _, _, err := old.Used(ctx, quota.Rooms); err != nil {
		t.Fatal(err)
	}
	t.Logf("after Redis restarted empty, the Ledger started first enforces %d Rooms", old.Limit(quota.Rooms))
	if got := old.Limit(quota.Rooms); got != 10 {
		t.Errorf("after Redis restarted empty the Ledger started first enforces %d Rooms, want 10 (the limits of the Ledger started last, still running)", got)
	}
}

type clockAt func() time.Time

func (c clockAt) Now() time.Time { return c() }
