package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// bookAhead takes n tokens of r at once, each granted with the wait the
// bucket needs, and returns the last wait: the tokens go out until then.
func bookAhead(t *testing.T, s *redisstore.Store, acct string, r backend.Rate, n int) time.Duration {
	t.Helper()
	var last time.Duration
	for range n {
		w, ok, err := s.TakeToken(context.Background(), acct, backend.Write, r, time.Minute)
		if err != nil || !ok {
			t.Fatalf("TakeToken: %v %v", ok, err)
		}
		last = w
	}
	return last
}

func TestLostBucketReseeded(t *testing.T) {
	// FLUSHALL while tokens are booked ahead: the next call re-seeds the
	// bucket from what this process saw, and the account runs at the
	// process's share for the calm period.
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore(t, rdb, redisstore.WithPrefix(prefix), redisstore.WithFailurePolicy(redisstore.FailLocal),
		redisstore.WithLocalShare(0.25), redisstore.WithProbeInterval(time.Second))
	ctx := context.Background()
	r := backend.Rate{PerSecond: 20, Burst: 1}
	booked := bookAhead(t, s, "AC1", r, 10) // 9 intervals of 50ms ahead
	if booked < 400*time.Millisecond {
		t.Fatalf("10 tokens at 20/s: last wait %v, want about 450ms", booked)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w, ok, err := s.TakeToken(ctx, "AC1", backend.Write, r, time.Minute)
	if err != nil || !ok {
		t.Fatalf("TakeToken after FLUSHALL: %v %v", ok, err)
	}
	// Without the re-seed the bucket would be fresh (wait 0). With it, the
	// token comes one calm interval (200ms at a share of 1/4) after the
	// last one booked.
	left := booked - time.Since(start)
	if w < left+150*time.Millisecond {
		t.Errorf("wait after FLUSHALL %v, want at least the %v still booked plus most of a calm interval (200ms)", w, left)
	}
	if v, err := rdb.Get(ctx, prefix+":{AC1}:calm").Result(); err != nil || v != "0.250000" {
		t.Errorf("calm key = %q, %v; want the share 0.250000", v, err)
	}
	if s.Degraded() {
		t.Error("a FLUSHALL degraded the store")
	}
}

func TestLostLedgerWrittenBack(t *testing.T) {
	// FLUSHALL: every process writes back its slots when it first meets the
	// lost ledger, and no reservation passes until the grace is over.
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	prefix := redistest.Prefix(t)
	opts := []redisstore.Option{redisstore.WithPrefix(prefix), redisstore.WithProbeInterval(100 * time.Millisecond)}
	a := newStore(t, srv.Client(t), opts...)
	b := newStore(t, srv.Client(t), opts...) // FailClosed: it writes back too
	observer := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	bounds := &backend.Bounds{Limit: 4, Hysteresis: 1}
	ca := ledgerCheck{t, a, "AC1", bounds}
	cb := ledgerCheck{t, b, "AC1", bounds}
	ca.hold("RM1")
	ca.reserve("r1", false)
	cb.hold("RM2")
	ctx := context.Background()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// a meets the loss through a read; it writes back RM1 and r1.
	if _, _, err := a.Used(ctx, "AC1", backend.Rooms); err != nil {
		t.Fatal(err)
	}
	ledgerCheck{t, observer, "AC1", bounds}.expect("RM1", "r1")
	// b's reservation is refused for the grace, but b writes back RM2.
	if _, err := b.Reserve(ctx, "AC1", backend.Rooms, "r2", bounds, time.Minute); !errors.Is(err, redisstore.ErrGrace) {
		t.Fatalf("Reserve during the grace: %v, want *UnavailableError with ErrGrace", err)
	}
	ledgerCheck{t, observer, "AC1", bounds}.expect("RM1", "r1", "RM2")
	time.Sleep(250 * time.Millisecond)
	cb.reserve("r2", false)
	cb.reserve("r3", true) // 4 of 4: the written-back slots count
	ledgerCheck{t, observer, "AC1", bounds}.expect("RM1", "r1", "RM2", "r2")
}

func TestFailLocalRateContinuity(t *testing.T) {
	t.Parallel()
	// Tokens booked ahead in Redis go out after Redis dies: the local bucket
	// starts after them, and on recovery Redis starts after the local ones,
	// at the share for the calm period.
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to stop")
	}
	s, _ := failLocal(t, srv, redisstore.WithLocalShare(0.25), redisstore.WithProbeInterval(300*time.Millisecond))
	ctx := context.Background()
	r := backend.Rate{PerSecond: 20, Burst: 1}
	booked := bookAhead(t, s, "AC1", r, 10)
	start := time.Now()
	srv.Stop(t)
	w, ok, err := s.TakeToken(ctx, "AC1", backend.Write, r, time.Minute)
	if err != nil || !ok || !s.Degraded() {
		t.Fatalf("TakeToken with Redis down: %v %v, degraded %v", ok, err, s.Degraded())
	}
	left := booked - time.Since(start)
	// One local interval (200ms) after the last shared one booked.
	if w < left+150*time.Millisecond-20*time.Millisecond {
		t.Errorf("first local wait %v, want the %v still booked plus 150ms", w, left)
	}
	localEnd := time.Now().Add(w)
	for range 3 {
		w, ok, err = s.TakeToken(ctx, "AC1", backend.Write, r, time.Minute)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		localEnd = time.Now().Add(w)
	}
	srv.Restart(t)
	waitRecovered(t, s, "AC1")
	w, ok, err = s.TakeToken(ctx, "AC1", backend.Write, r, time.Minute)
	if err != nil || !ok || s.Degraded() {
		t.Fatalf("TakeToken after recovery: %v %v, degraded %v", ok, err, s.Degraded())
	}
	if got := time.Now().Add(w); got.Before(localEnd.Add(100 * time.Millisecond)) {
		t.Errorf("first token from Redis after recovery goes out %v after the last local one, want a calm interval (200ms) later",
			got.Sub(localEnd))
	}
	rdb := srv.ClientWith(t, func(*redis.Options) {})
	if v, err := rdb.Get(ctx, keyOf(t, rdb, ":{AC1}:calm")).Result(); err != nil || v != "0.250000" {
		t.Errorf("calm key after recovery = %q, %v; want 0.250000", v, err)
	}
}

// keyOf returns the one key of rdb ending in suffix.
func keyOf(t *testing.T, rdb *redis.Client, suffix string) string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "*"+suffix).Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys *%s: %v %v", suffix, keys, err)
	}
	return keys[0]
}

func TestWatchWritesBackIdle(t *testing.T) {
	// An idle process holding slots notices a FLUSHALL through its watch and
	// writes them back within the grace, before any reservation passes.
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	prefix := redistest.Prefix(t)
	a := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix), redisstore.WithProbeInterval(200*time.Millisecond),
		redisstore.WithWatch(20*time.Millisecond))
	t.Cleanup(func() { a.Close() })
	observer := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	bounds := &backend.Bounds{Limit: 2, Hysteresis: 1}
	ledgerCheck{t, a, "AC1", bounds}.hold("RM1")
	ctx := context.Background()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		if h, err := observer.Holds(ctx, "AC1", backend.Rooms, "RM1"); err == nil && h {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle process's slot was not written back within 1s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Written back by the watch, which found the loss: the grace holds.
	if _, full, err := observer.Used(ctx, "AC1", backend.Rooms); err != nil || !full {
		t.Errorf("Used after the write-back: full %v, %v; want the grace mark", full, err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFailLocalUnevenShare(t *testing.T) {
	t.Parallel()
	// Processes that held the quota unevenly when Redis went away: the local
	// share is this process's slots plus its share of the room left, so the
	// processes together stay within the quota.
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to stop")
	}
	s, observer := failLocal(t, srv) // share 1/2
	b := &backend.Bounds{Limit: 8, Hysteresis: 1}
	o := ledgerCheck{t, observer, "AC1", b}
	for _, k := range []string{"RM5", "RM6", "RM7", "RM8", "RM9"} {
		o.hold(k) // the other process holds 5
	}
	c := ledgerCheck{t, s, "AC1", b}
	c.hold("RM1") // this one 1, and sees 6 of 8 used
	srv.Stop(t)
	// 1 + floor((8-6)/2) = 2: one more, not floor(8/2) = 4 in all.
	c.reserve("r1", false)
	if !s.Degraded() {
		t.Fatal("not degraded after Redis stopped")
	}
	if c, err := s.Reserve(context.Background(), "AC1", backend.Rooms, "r2", b, time.Minute); !localRefusal(err) || !c.Refused || c.Limit != 2 {
		t.Errorf("second local reservation: %+v, %v, want Refused with the local Limit 2", c, err)
	}
}
