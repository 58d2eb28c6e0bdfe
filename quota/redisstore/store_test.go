package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/quota/storetest"
)

func newStore(t testing.TB, rdb redis.UniversalClient, opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(rdb, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := newStore(t, rdb, redisstore.WithPrefix(redistest.Prefix(t)))
	storetest.Run(t, func(t *testing.T) backend.Store { return s })
}

func TestConformanceFailLocal(t *testing.T) {
	// With Redis healthy, a FailLocal store must behave exactly like a FailClosed one.
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(redistest.Prefix(t)),
		redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(0.5))
	storetest.Run(t, func(t *testing.T) backend.Store { return s })
}

func TestShared(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	a := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	b := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	storetest.RunShared(t, func(t *testing.T) (backend.Store, backend.Store) { return a, b })
}

func TestLimitsConformance(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	a := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	b := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	storetest.RunLimits(t, func(t *testing.T) (backend.Store, backend.Store) { return a, b })
}

func TestInspector(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	storetest.RunInspector(t, func(t *testing.T) backend.Store { return s })
	t.Run("FailLocal", func(t *testing.T) {
		fl := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix),
			redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(0.5))
		storetest.RunInspector(t, func(t *testing.T) backend.Store { return fl })
	})
	t.Run("Shared", func(t *testing.T) {
		// Another handle on the same Redis sees this one's bucket and reservations.
		other := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
		ctx := context.Background()
		acct := storetest.Account(t)
		r := backend.Rate{PerSecond: 0.01, Burst: 4}
		for range 3 {
			if _, ok, err := s.TakeToken(ctx, acct, backend.Write, r, 0); err != nil || !ok {
				t.Fatalf("TakeToken: %v %v", ok, err)
			}
		}
		for _, k := range []string{"a", "b"} {
			if _, err := s.Reserve(ctx, acct, backend.Participants, k, nil, time.Minute); err != nil {
				t.Fatalf("Reserve: %v", err)
			}
		}
		if n, err := other.Tokens(ctx, acct, backend.Write, r); err != nil || n < 1 || n > 1.05 {
			t.Errorf("other handle: Tokens = %v, %v; want 1 of 4 left", n, err)
		}
		if n, err := other.Pending(ctx, acct, backend.Participants); err != nil || n != 2 {
			t.Errorf("other handle: Pending = %d, %v; want 2", n, err)
		}
	})
}

func TestKeys(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore(t, rdb, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	const acct = "AC0123"
	if _, _, err := s.TakeToken(ctx, acct, backend.Write, backend.Rate{PerSecond: 10, Burst: 1}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AdjustRateFactor(ctx, acct, backend.Write, 1, 0.5, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	b := &backend.Bounds{Limit: 10, Levels: []float64{0.1}, Hysteresis: 1}
	if _, err := s.Reserve(ctx, acct, backend.Rooms, "res", b, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hold(ctx, acct, backend.Participants, "PA1", b, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFull(ctx, acct, backend.Rooms, time.Minute); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		prefix + ":{AC0123}:rate:write":          true,
		prefix + ":{AC0123}:factor:write":        true,
		prefix + ":{AC0123}:rooms:pending":       true,
		prefix + ":{AC0123}:rooms:full":          true,
		prefix + ":{AC0123}:rooms:levels":        true,
		prefix + ":{AC0123}:participants:held":   true,
		prefix + ":{AC0123}:participants:levels": true,
		prefix + ":{AC0123}:rooms:epoch":         true,
		prefix + ":{AC0123}:participants:epoch":  true,
		prefix + ":{AC0123}:gen":                 true,
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
		delete(want, k)
		if ttl := rdb.PTTL(ctx, k).Val(); !strings.HasSuffix(k, ":epoch") && !strings.HasSuffix(k, ":gen") && ttl <= 0 {
			t.Errorf("key %q has no expiry (PTTL %v)", k, ttl)
		}
	}
	for k := range want {
		t.Errorf("missing key %q", k)
	}
	// One account's keys share a cluster slot.
	for _, k := range keys {
		if !strings.Contains(k, ":{AC0123}:") {
			t.Errorf("key %q lacks the account hash tag", k)
		}
	}
}

func TestOptions(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	for _, tc := range []struct {
		name string
		opts []redisstore.Option
		want string // in the error
	}{
		{"empty prefix", []redisstore.Option{redisstore.WithPrefix("")}, "WithPrefix"},
		{"prefix with brace", []redisstore.Option{redisstore.WithPrefix("a{b")}, "WithPrefix"},
		{"unknown policy", []redisstore.Option{redisstore.WithFailurePolicy(7)}, "WithFailurePolicy"},
		{"zero share", []redisstore.Option{redisstore.WithLocalShare(0)}, "WithLocalShare"},
		{"share above 1", []redisstore.Option{redisstore.WithLocalShare(1.5)}, "WithLocalShare"},
		{"NaN share", []redisstore.Option{redisstore.WithLocalShare(math.NaN())}, "WithLocalShare"},
		{"negative timeout", []redisstore.Option{redisstore.WithTimeout(-time.Second)}, "WithTimeout"},
		{"zero probe", []redisstore.Option{redisstore.WithProbeInterval(0)}, "WithProbeInterval"},
		{"FailLocal without share", []redisstore.Option{redisstore.WithFailurePolicy(redisstore.FailLocal)}, "WithLocalShare"},
		{"nil option", []redisstore.Option{nil}, "nil Option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisstore.New(rdb, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if _, err := redisstore.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	s := newStore(t, rdb, redisstore.WithPrefix(redistest.Prefix(t)))
	for _, ps := range []float64{0, math.NaN()} {
		if _, _, err := s.TakeToken(context.Background(), "AC1", backend.Read, backend.Rate{PerSecond: ps, Burst: 1}, 0); err == nil {
			t.Errorf("TakeToken with PerSecond %v succeeded", ps)
		}
	}
	var fe *backend.FactorError
	if _, err := s.AdjustRateFactor(context.Background(), "AC1", backend.Read, 1, 2, time.Minute); !errors.As(err, &fe) {
		t.Errorf("AdjustRateFactor(to 2) = %v, want *backend.FactorError", err)
	}
}

func TestScriptCacheFlushed(t *testing.T) {
	// After SCRIPT FLUSH (a Redis restart, a failover) EVALSHA fails with
	// NOSCRIPT and the store must fall back to EVAL by itself.
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := newStore(t, rdb, redisstore.WithPrefix(redistest.Prefix(t)))
	ctx := context.Background()
	b := &backend.Bounds{Limit: 5, Hysteresis: 1}
	for i := range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reserve(ctx, "AC1", backend.Rooms, "k"+string(rune('0'+i)), b, time.Minute); err != nil {
			t.Fatalf("Reserve after SCRIPT FLUSH: %v", err)
		}
		if _, _, err := s.TakeToken(ctx, "AC1", backend.Read, backend.Rate{PerSecond: 100, Burst: 10}, 0); err != nil {
			t.Fatalf("TakeToken after SCRIPT FLUSH: %v", err)
		}
	}
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to stop")
	}
	rdb := srv.ClientWith(t, func(o *redis.Options) { o.MaxRetries = -1; o.DialTimeout = 200 * time.Millisecond })
	prefix := redistest.Prefix(t)
	s := newStore(t, rdb, redisstore.WithPrefix(prefix), redisstore.WithProbeInterval(50*time.Millisecond))
	ctx := context.Background()
	b := &backend.Bounds{Limit: 5, Hysteresis: 1}
	if _, err := s.Reserve(ctx, "AC1", backend.Rooms, "r1", b, time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	checks := []struct {
		op string
		fn func() error
	}{
		{"Reserve", func() error { _, err := s.Reserve(ctx, "AC1", backend.Rooms, "r2", b, time.Minute); return err }},
		{"TakeToken", func() error {
			_, _, err := s.TakeToken(ctx, "AC1", backend.Write, backend.Rate{PerSecond: 1, Burst: 1}, 0)
			return err
		}},
		{"Used", func() error { _, _, err := s.Used(ctx, "AC1", backend.Rooms); return err }},
	}
	for _, c := range checks {
		err := c.fn()
		var ue *redisstore.UnavailableError
		if !errors.As(err, &ue) || ue.Op != c.op || !errors.Is(err, redisstore.ErrUnavailable) || ue.Err == nil {
			t.Errorf("%s with Redis down: %v, want *UnavailableError{Op: %q}", c.op, err, c.op)
		}
	}
	if s.Degraded() {
		t.Error("a FailClosed store reports Degraded")
	}
	srv.Restart(t)
	// Redis came back empty (no persistence). The store answers at once; the
	// first operation finds the ledger lost, writes r1 back and holds new
	// reservations off for the grace (two probe intervals), so that the other
	// processes can write theirs back first.
	if _, err := s.Reserve(ctx, "AC1", backend.Rooms, "r2", b, time.Minute); !errors.Is(err, redisstore.ErrGrace) || !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Reserve just after a restart that lost the ledger: %v, want *UnavailableError with ErrGrace", err)
	}
	observer := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	ledgerCheck{t, observer, "AC1", b}.expect("r1")
	time.Sleep(150 * time.Millisecond) // past the grace
	c, err := s.Reserve(ctx, "AC1", backend.Rooms, "r2", b, time.Minute)
	if err != nil || c.Used != 2 {
		t.Fatalf("Reserve after the grace: %+v, %v; want Used 2 (r1 written back, r2)", c, err)
	}
}

// failLocal returns a store that degrades to half the quota, and an observer
// on its own client that sees Redis only.
func failLocal(t *testing.T, srv *redistest.Server, opts ...redisstore.Option) (s, observer *redisstore.Store) {
	t.Helper()
	prefix := redistest.Prefix(t)
	rdb := srv.ClientWith(t, func(o *redis.Options) {
		o.MaxRetries = -1
		o.DialTimeout = 200 * time.Millisecond
		o.ReadTimeout = 200 * time.Millisecond
		o.WriteTimeout = 200 * time.Millisecond
	})
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	s = newStore(t, rdb, append([]redisstore.Option{redisstore.WithPrefix(prefix),
		redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(0.5),
		redisstore.WithProbeInterval(50 * time.Millisecond), redisstore.WithLogger(log)}, opts...)...)
	observer = newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	return s, observer
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type ledgerCheck struct {
	t     *testing.T
	s     *redisstore.Store
	acct  string
	bound *backend.Bounds
}

func (c ledgerCheck) reserve(key string, wantErr bool) {
	c.t.Helper()
	ch, err := c.s.Reserve(context.Background(), c.acct, backend.Rooms, key, c.bound, time.Minute)
	if wantErr && localRefusal(err) {
		err = nil // the local share's refusal, typed as such
	}
	if err != nil || ch.Refused != wantErr {
		c.t.Fatalf("Reserve(%q): %+v, %v, want Refused %v and no error", key, ch, err, wantErr)
	}
}

// localRefusal reports whether err is the local share's refusal: an
// *UnavailableError that matches quota.ErrExceeded.
func localRefusal(err error) bool {
	var ue *redisstore.UnavailableError
	return errors.As(err, &ue) && errors.Is(err, quota.ErrExceeded)
}

// inGrace checks that a reservation under key is refused for the grace.
func (c ledgerCheck) inGrace(key string) {
	c.t.Helper()
	_, err := c.s.Reserve(context.Background(), c.acct, backend.Rooms, key, c.bound, time.Minute)
	var ue *redisstore.UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, redisstore.ErrGrace) || errors.Is(err, quota.ErrExceeded) {
		c.t.Fatalf("Reserve(%q) during the grace: %v, want *UnavailableError with ErrGrace, no ExceededError", key, err)
	}
}

func (c ledgerCheck) hold(key string) {
	c.t.Helper()
	if _, err := c.s.Hold(context.Background(), c.acct, backend.Rooms, key, c.bound, time.Minute); err != nil {
		c.t.Fatalf("Hold(%q): %v", key, err)
	}
}

func (c ledgerCheck) release(key string) {
	c.t.Helper()
	if _, err := c.s.Release(context.Background(), c.acct, backend.Rooms, key, c.bound); err != nil {
		c.t.Fatalf("Release(%q): %v", key, err)
	}
}

// expect checks that exactly keys are counted (in Redis, for an observer).
func (c ledgerCheck) expect(keys ...string) {
	c.t.Helper()
	ctx := context.Background()
	used, _, err := c.s.Used(ctx, c.acct, backend.Rooms)
	if err != nil {
		c.t.Fatalf("Used: %v", err)
	}
	if used != len(keys) {
		c.t.Errorf("Used = %d, want %d (%v)", used, len(keys), keys)
	}
	for _, k := range keys {
		if h, err := c.s.Holds(ctx, c.acct, backend.Rooms, k); err != nil || !h {
			c.t.Errorf("Holds(%q) = %v, %v; want true", k, h, err)
		}
	}
}

// waitRecovered runs operations until s is back on Redis.
func waitRecovered(t *testing.T, s *redisstore.Store, acct string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Degraded() {
		if time.Now().After(deadline) {
			t.Fatal("the store did not recover within 5s of Redis returning")
		}
		time.Sleep(20 * time.Millisecond)
		s.Used(context.Background(), acct, backend.Rooms)
	}
}

func TestFailLocalRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to stop")
	}
	// The grace after a data loss lasts two probe intervals: 1 s here, so
	// that the checks made within it hold on a loaded machine.
	s, observer := failLocal(t, srv, redisstore.WithProbeInterval(500*time.Millisecond))
	// The local share is 4: the 2 slots this process holds and half of the 4 left.
	b := &backend.Bounds{Limit: 6, Hysteresis: 1}
	c := ledgerCheck{t, s, "AC1", b}
	c.reserve("r1", false)
	c.hold("RM1")

	srv.Stop(t)
	c.reserve("r2", false) // fails over to the local share, which starts with r1 and RM1
	if !s.Degraded() {
		t.Fatal("not degraded after Redis stopped")
	}
	c.expect("r1", "RM1", "r2")
	if n, err := s.Pending(context.Background(), "AC1", backend.Rooms); err != nil || n != 2 {
		t.Errorf("Pending while degraded = %d, %v; want the local share's 2 (r1, r2)", n, err)
	}
	c.hold("RM2")
	if ch, err := s.Reserve(context.Background(), "AC1", backend.Rooms, "r3", b, time.Minute); !localRefusal(err) || !ch.Refused || ch.Limit != 4 || ch.Used != 4 {
		t.Errorf("refusal while degraded: %+v, %v, want Refused with the local Limit 4, Used 4", ch, err)
	}
	c.release("RM1") // taken in Redis before: given back there on recovery
	c.expect("r1", "r2", "RM2")
	var ue *redisstore.UnavailableError
	if _, _, _, err := s.Sync(context.Background(), "AC1", backend.Rooms, []string{"RM2"}, b, time.Minute, 0); !errors.As(err, &ue) || ue.Op != "Sync" {
		t.Errorf("Sync while degraded: %v, want *UnavailableError", err)
	}

	srv.Restart(t) // empty: no persistence
	waitRecovered(t, s, "AC1")
	// Redis now holds this process's slots, those from before the outage
	// included, each once.
	ledgerCheck{t, observer, "AC1", b}.expect("r1", "r2", "RM2")
	c.expect("r1", "r2", "RM2")
	// Redis lost its data: new slots wait for a grace of two probe
	// intervals, while the other processes write theirs back.
	if _, full, err := observer.Used(context.Background(), "AC1", backend.Rooms); err != nil || !full {
		t.Errorf("Used after recovery from a data loss: full %v, %v; want the grace mark", full, err)
	}
	c.inGrace("r3")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, full, err := observer.Used(context.Background(), "AC1", backend.Rooms); err == nil && !full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the grace mark outlived 5 s (two probe intervals are 1 s)")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, k := range []string{"r3", "r4", "r5"} {
		c.reserve(k, false)
	}
	c.reserve("r6", true) // the whole quota (6) again
}

func TestFailLocalHang(t *testing.T) {
	t.Parallel()
	// A hung Redis (SIGSTOP) keeps its data and, once it goes on, may run the
	// command that timed out: that slot then exists in Redis and locally, and
	// must still be counted once.
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	// 400 ms: long enough that a loaded machine does not trip it before
	// the pause, short enough for the bound checked below.
	s, observer := failLocal(t, srv, redisstore.WithTimeout(400*time.Millisecond))
	// The local share is 3: the 2 slots this process holds and half of the 2 left.
	b := &backend.Bounds{Limit: 4, Hysteresis: 1}
	c := ledgerCheck{t, s, "AC1", b}
	c.reserve("r1", false)
	c.hold("RM1")

	srv.Pause(t)
	t.Cleanup(func() { srv.Resume(t) })
	start := time.Now()
	c.reserve("r2", false) // times out after 400ms; Redis may run it later
	if !s.Degraded() {
		t.Fatal("not degraded after Redis hung")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the failing-over Reserve took %v with WithTimeout(400ms)", d)
	}
	c.hold("RM2") // past the local share: Twilio holds it
	c.release("RM1")
	c.expect("r1", "r2", "RM2")
	c.reserve("r3", true) // the local share (3) is used up

	srv.Resume(t)
	waitRecovered(t, s, "AC1")
	ledgerCheck{t, observer, "AC1", b}.expect("r1", "r2", "RM2")
	// RM1, released while degraded, was marked ended with the write-back: a
	// late report of it through another process holds nothing.
	if ch, err := observer.Hold(context.Background(), "AC1", backend.Rooms, "RM1", b, time.Minute); err != nil || ch.Changed {
		t.Errorf("Hold of RM1 (released while degraded) after the recovery: %+v, %v; want nothing held", ch, err)
	}
	// Every write-back holds reservations off for the grace (two probe
	// intervals), while the other processes write theirs back.
	c.inGrace("r3")
	time.Sleep(150 * time.Millisecond)
	c.reserve("r3", false)
	c.reserve("r4", true) // the whole quota (4) again
}

func TestFailLocalPartition(t *testing.T) {
	// Only this process loses Redis; Redis keeps its data and another
	// process gives back a slot this one had taken. The write-back must not
	// bring that slot back.
	srv := redistest.Start(t)
	proxy := srv.NewProxy(t)
	prefix := redistest.Prefix(t)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	s := newStore(t, rdb, redisstore.WithPrefix(prefix), redisstore.WithFailurePolicy(redisstore.FailLocal),
		redisstore.WithLocalShare(0.5), redisstore.WithProbeInterval(50*time.Millisecond))
	other := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	b := &backend.Bounds{Limit: 8, Hysteresis: 1}
	c := ledgerCheck{t, s, "AC1", b}
	o := ledgerCheck{t, other, "AC1", b}
	c.reserve("r1", false)
	c.hold("RM1")

	proxy.Cut()
	c.reserve("r2", false)
	if !s.Degraded() {
		t.Fatal("not degraded after the partition")
	}
	o.release("RM1") // the room ended; another process heard of it
	o.hold("RM9")    // and another room started there
	c.expect("r1", "RM1", "r2")

	proxy.Heal()
	waitRecovered(t, s, "AC1")
	o.expect("r1", "r2", "RM9")
	c.expect("r1", "r2", "RM9")
}

func TestFailLocalRate(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to stop")
	}
	s, _ := failLocal(t, srv)
	ctx := context.Background()
	r := backend.Rate{PerSecond: 1, Burst: 4} // the local share is 0.5/s, burst 2
	srv.Stop(t)
	var granted int
	for range 10 {
		_, ok, err := s.TakeToken(ctx, "AC1", backend.Write, r, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			granted++
		}
	}
	if granted != 2 {
		t.Errorf("degraded tokens granted at once: %d, want the local burst 2", granted)
	}
	w, ok, err := s.TakeToken(ctx, "AC1", backend.Write, r, time.Minute)
	if err != nil || !ok || w < 1500*time.Millisecond || w > 2*time.Second {
		t.Errorf("next degraded token: wait %v ok %v err %v, want about 2s (0.5/s)", w, ok, err)
	}
	// The local bucket owes the token it granted with a wait.
	if n, err := s.Tokens(ctx, "AC1", backend.Write, r); err != nil || n < -1 || n > -0.75 {
		t.Errorf("degraded Tokens = %v, %v; want about -1 (one token owed)", n, err)
	}
}

// TestClosedClient: once the application closes the Redis client, the
// store's errors match quota.ErrClosed, the module's one "closed" error.
func TestClosedClient(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := newStore(t, rdb, redisstore.WithPrefix(redistest.Prefix(t)))
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.TakeToken(context.Background(), "AC1", backend.Write, backend.Rate{PerSecond: 10, Burst: 1}, time.Second)
	if !errors.Is(err, quota.ErrClosed) || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Fatalf("TakeToken on a closed client: %v, want a redisstore: error matching quota.ErrClosed", err)
	}
}
