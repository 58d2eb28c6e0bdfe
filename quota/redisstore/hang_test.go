package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// slack is what a wait may take beyond the store's deadline in these tests:
// generous, for a loaded machine. The figures measured are logged.
const slack = time.Second

// opMix runs one store operation of each kind in turn, so that every path
// (a token, a ledger script, a read) meets the hung Redis.
func opMix(s *redisstore.Store, i int) (string, error) {
	ctx := context.Background()
	b := &backend.Bounds{Limit: 100, Hysteresis: 1}
	key := fmt.Sprintf("k%d", i)
	switch i % 5 {
	case 0:
		_, err := s.Reserve(ctx, "AC1", backend.Rooms, key, b, time.Minute)
		return "Reserve", err
	case 1:
		_, _, err := s.TakeToken(ctx, "AC1", backend.Write, backend.Rate{PerSecond: 1000, Burst: 100}, 0)
		return "TakeToken", err
	case 2:
		_, err := s.Hold(ctx, "AC1", backend.Rooms, "RM"+key, b, time.Minute)
		return "Hold", err
	case 3: // the Room the Hold before held
		_, err := s.Release(ctx, "AC1", backend.Rooms, fmt.Sprintf("RMk%d", i-1), b)
		return "Release", err
	default:
		_, _, err := s.Used(ctx, "AC1", backend.Rooms)
		return "Used", err
	}
}

// TestHangBoundedWait: with a Redis client of default options (a 3 s read
// timeout, retried) and redis-server SIGSTOPped, every operation returns
// within the store's deadline with an *UnavailableError whose cause is a
// *TimeoutError; after SIGCONT the next operations go through, and the
// reservations Redis took after their callers had gone are given back.
func TestHangBoundedWait(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	const timeout = 200 * time.Millisecond
	prefix := redistest.Prefix(t)
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix), redisstore.WithTimeout(timeout))
	observer := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	b := &backend.Bounds{Limit: 100, Hysteresis: 1}
	ctx := context.Background()
	if _, err := s.Reserve(ctx, "AC1", backend.Rooms, "before", b, time.Minute); err != nil {
		t.Fatal(err)
	}

	srv.Pause(t)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			srv.Resume(t)
		}
	})
	const workers, rounds = 8, 4 // 32 operations, 4 waits of 200 ms each per worker
	var mu sync.Mutex
	var longest time.Duration
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				start := time.Now()
				op, err := opMix(s, w*rounds+r)
				d := time.Since(start)
				mu.Lock()
				longest = max(longest, d)
				mu.Unlock()
				var ue *redisstore.UnavailableError
				var te *redisstore.TimeoutError
				switch {
				case op == "Hold" || op == "Release":
					if err != nil { // queued, to be written back
						t.Errorf("%s with Redis hung: %v, want it queued (nil)", op, err)
					}
				case !errors.As(err, &ue) || ue.Op != op:
					t.Errorf("%s with Redis hung: %v, want *UnavailableError{Op: %q}", op, err, op)
				case !errors.Is(err, redisstore.ErrBacklog) && !(errors.As(err, &te) && te.Timeout == timeout):
					t.Errorf("%s with Redis hung: %v, want a *TimeoutError of %v or ErrBacklog", op, err, timeout)
				}
				if d > timeout+slack {
					t.Errorf("%s with Redis hung returned after %v, want within %v (+%v slack)", op, d, timeout, slack)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("longest wait with Redis hung: %v (deadline %v)", longest, timeout)

	srv.Resume(t)
	resumed = true
	resume := time.Now()
	for {
		_, err := s.Reserve(ctx, "AC1", backend.Rooms, "after", b, time.Minute)
		if err == nil {
			break
		}
		if !errors.Is(err, redisstore.ErrBacklog) || time.Since(resume) > 5*time.Second {
			t.Fatalf("Reserve after SIGCONT: %v, want success once the queued writes are written back", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("first Reserve after SIGCONT admitted in %v (the queued writes written back first)", time.Since(resume))
	// The reservations that Redis ran on SIGCONT, after their callers got
	// an *UnavailableError, are given back: only "before" and "after" stay.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := observer.Pending(ctx, "AC1", backend.Rooms)
		if err == nil && n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending reservations after SIGCONT: %d, %v; want 2 (before, after): the late ones given back", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The Holds that timed out may have run too: they are facts (Twilio
	// holds those Rooms), kept.
	for _, k := range []string{"before", "after"} {
		if h, err := observer.Holds(ctx, "AC1", backend.Rooms, k); err != nil || !h {
			t.Errorf("Holds(%q) after SIGCONT = %v, %v; want true", k, h, err)
		}
	}
}

// TestCloseEndsWaits: Close ends the operations waiting on a hung Redis at
// once with ErrClosed, however long the store's deadline, and later ones
// send nothing.
func TestCloseEndsWaits(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(time.Minute))
	srv.Pause(t)
	t.Cleanup(func() { srv.Resume(t) })
	const n = 6
	type ended struct {
		op  string
		err error
		at  time.Time
	}
	out := make(chan ended, n)
	for i := range n {
		go func() {
			op, err := opMix(s, i)
			out <- ended{op, err, time.Now()}
		}()
	}
	waitWaiting(t, s, n)
	closeAt := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closeTook := time.Since(closeAt)
	var longest time.Duration
	for range n {
		e := <-out
		d := e.at.Sub(closeAt)
		longest = max(longest, d)
		if !errors.Is(e.err, redisstore.ErrClosed) || !errors.Is(e.err, quota.ErrClosed) {
			t.Errorf("%s waiting on Redis at Close: %v, want ErrClosed (and quota.ErrClosed)", e.op, e.err)
		}
		if d > slack {
			t.Errorf("%s returned %v after Close, want at once", e.op, d)
		}
	}
	t.Logf("Close took %v; the waiting calls returned within %v of it", closeTook, longest)
	if op, err := opMix(s, 0); !errors.Is(err, redisstore.ErrClosed) {
		t.Errorf("%s after Close: %v, want ErrClosed", op, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCallerContextEndsWait: the caller's ctx ends a wait on a hung Redis,
// with ctx's cause, not an *UnavailableError.
func TestCallerContextEndsWait(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(time.Minute))
	srv.Pause(t)
	t.Cleanup(func() { srv.Resume(t) })
	cause := errors.New("the caller gave up")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Reserve(ctx, "AC1", backend.Rooms, "r", &backend.Bounds{Limit: 5, Hysteresis: 1}, time.Minute)
		done <- err
	}()
	waitWaiting(t, s, 1)
	at := time.Now()
	cancel(cause)
	err := <-done
	if d := time.Since(at); d > slack {
		t.Errorf("Reserve returned %v after its ctx ended", d)
	}
	if !errors.Is(err, cause) || errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("Reserve whose ctx ended: %v, want its cause, not ErrUnavailable", err)
	}
}

// waitWaiting waits until n operations of s wait on Redis.
func waitWaiting(t *testing.T, s *redisstore.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for redisstore.Waiting(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d operations waiting on Redis after 10s, want %d", redisstore.Waiting(s), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFailLocalHangRecovers: under FailLocal with default client options, a
// hung Redis costs one deadline; while it hangs, refusals are the local
// share's, typed as such (an *UnavailableError with the share's
// *ExceededError inside); after SIGCONT the store is back on Redis within a
// probe interval and reservations are admitted at the real usage once the
// grace (two probe intervals) is over, every refusal until then an
// *UnavailableError.
func TestFailLocalHangRecovers(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	prefix := redistest.Prefix(t)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix), redisstore.WithLogger(log),
		redisstore.WithFailurePolicy(redisstore.FailLocal), redisstore.WithLocalShare(1.0/4))
	t.Cleanup(func() { _ = s.Close() })
	other := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	b := &backend.Bounds{Limit: 16, Hysteresis: 1}
	ctx := context.Background()
	for i := range 5 { // another process holds 5 of 16
		if _, err := other.Hold(ctx, "AC1", backend.Rooms, fmt.Sprintf("RM%d", i), b, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Used(ctx, "AC1", backend.Rooms); err != nil { // s sees the usage
		t.Fatal(err)
	}

	srv.Pause(t)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			srv.Resume(t)
		}
	})
	start := time.Now()
	// The local share: floor((16 - 5) / 4) = 2.
	for i := range 2 {
		if _, err := s.Reserve(ctx, "AC1", backend.Rooms, fmt.Sprintf("local%d", i), b, time.Minute); err != nil {
			t.Fatalf("Reserve within the local share: %v", err)
		}
	}
	t.Logf("the first Reserve with Redis hung and the next one took %v (deadline %v)", time.Since(start), redisstore.DefaultTimeout)
	if d := time.Since(start); d > redisstore.DefaultTimeout+slack {
		t.Errorf("two Reserves with Redis hung took %v, want one deadline (%v)", d, redisstore.DefaultTimeout)
	}
	ch, err := s.Reserve(ctx, "AC1", backend.Rooms, "over", b, time.Minute)
	if !localRefusal(err) || !ch.Refused || ch.Limit != 2 || !strings.Contains(err.Error(), "local share") {
		t.Fatalf("Reserve past the local share: %+v, %v, want *UnavailableError naming the local share, matching quota.ErrExceeded, Limit 2", ch, err)
	}

	srv.Resume(t)
	resumed = true
	resume := time.Now()
	var admitted time.Duration
	for i := 0; ; i++ {
		_, err := s.Reserve(ctx, "AC1", backend.Rooms, fmt.Sprintf("after%d", i), b, time.Minute)
		if err == nil && !s.Degraded() {
			admitted = time.Since(resume)
			break
		}
		if err != nil && !errors.As(err, new(*redisstore.UnavailableError)) {
			t.Fatalf("Reserve after SIGCONT: %v, want success or an *UnavailableError (local share, grace)", err)
		}
		if time.Since(resume) > 10*time.Second {
			t.Fatalf("no reservation admitted from Redis within 10s of SIGCONT (last: %v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("first reservation admitted from Redis %v after SIGCONT (probe interval %v, grace %v)",
		admitted, redisstore.DefaultProbeInterval, 2*redisstore.DefaultProbeInterval)
	// Redis counts the other process's 5, the 2 local ones written back and
	// the one just admitted; the local refusals were given back.
	used, _, err := other.Used(ctx, "AC1", backend.Rooms)
	if err != nil || used != 8 {
		t.Errorf("Used in Redis after recovery: %d, %v; want 8 (5 held elsewhere, 2 written back, 1 new)", used, err)
	}
}

// TestNewChecksRedis: New on an address where nothing listens returns an
// *UnavailableError at once, and go-redis's own lines about it go to the
// store's logger.
func TestNewChecksRedis(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	lines := make(chan string, 16)
	log := slog.New(chanHandler(lines))
	// The failed dial is logged from go-redis's dialing goroutine, with no
	// trace of the store's call: it goes to the logger RouteRedisLog names.
	redisstore.RouteRedisLog(log)
	t.Cleanup(func() { redisstore.RouteRedisLog(stderrLog) })
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	start := time.Now()
	s, err := redisstore.New(rdb, redisstore.WithLogger(log), redisstore.WithTimeout(300*time.Millisecond))
	var ue *redisstore.UnavailableError
	if s != nil || !errors.As(err, &ue) || ue.Op != "New" || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("New on a dead address: %v, %v; want nil and an *UnavailableError{Op: New} saying why", s, err)
	}
	if d := time.Since(start); d > 300*time.Millisecond+slack {
		t.Errorf("New on a dead address took %v", d)
	}
	select {
	case line := <-lines:
		if !strings.Contains(line, "go-redis") || !strings.Contains(line, "dial") {
			t.Errorf("logged %q, want go-redis's dial failure", line)
		}
	case <-time.After(5 * time.Second):
		t.Error("go-redis's dial failure did not reach the store's logger within 5s")
	}
}

func TestNewFromURL(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redisstore.NewFromURL(srv.URL, redisstore.WithPrefix(redistest.Prefix(t)))
	if err != nil {
		t.Fatalf("NewFromURL(%s): %v", srv.URL, err)
	}
	b := &backend.Bounds{Limit: 5, Hysteresis: 1}
	if _, err := s.Reserve(context.Background(), "AC1", backend.Rooms, "r", b, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Reserve(context.Background(), "AC1", backend.Rooms, "r2", b, time.Minute); !errors.Is(err, redisstore.ErrClosed) {
		t.Errorf("Reserve after Close: %v, want ErrClosed", err)
	}

	_, err = redisstore.NewFromURL("http://user:s3cret@127.0.0.1:1/0")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.HasPrefix(err.Error(), "redisstore: NewFromURL") {
		t.Errorf("NewFromURL with a bad scheme: %v, want an error naming the url without its password", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://:s3cret@" + l.Addr().String() + "/0"
	_ = l.Close()
	_, err = redisstore.NewFromURL(dead, redisstore.WithTimeout(200*time.Millisecond))
	if !errors.Is(err, redisstore.ErrUnavailable) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("NewFromURL on a dead address: %v, want ErrUnavailable, no password", err)
	}
}

var stderrLog = slog.New(slog.NewTextHandler(os.Stderr, nil))

// chanHandler is a slog.Handler sending each record's message to a channel
// (dropped when full).
type chanHandler chan string

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r.Message:
	default:
	}
	return nil
}
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chanHandler) WithGroup(string) slog.Handler      { return h }

// TestCallbacksQueuedWhileHung: under FailClosed, what Twilio reports while
// Redis hangs (Hold, Commit, Release) is queued, not refused, and written
// back in order once Redis answers: Redis then holds exactly what Twilio
// holds, without a reconcile, and reservations follow it at once.
func TestCallbacksQueuedWhileHung(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	const timeout = 200 * time.Millisecond
	prefix := redistest.Prefix(t)
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix), redisstore.WithTimeout(timeout))
	t.Cleanup(func() { _ = s.Close() })
	observer := newStore(t, srv.Client(t), redisstore.WithPrefix(prefix))
	b := &backend.Bounds{Limit: 6, Hysteresis: 1}
	ctx := context.Background()
	c := ledgerCheck{t, s, "AC1", b}
	c.hold("RM1")
	c.hold("RM2")
	c.reserve("r1", false)

	srv.Pause(t)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			srv.Resume(t)
		}
	})
	start := time.Now()
	steps := []struct {
		op string
		fn func() error
	}{
		{"Release RM1", func() error { _, err := s.Release(ctx, "AC1", backend.Rooms, "RM1", b); return err }},
		{"Commit r1 as RM3", func() error { _, err := s.Commit(ctx, "AC1", backend.Rooms, "r1", "RM3", b, time.Hour); return err }},
		{"Hold RM4", func() error { _, err := s.Hold(ctx, "AC1", backend.Rooms, "RM4", b, time.Hour); return err }},
		{"Hold RM5", func() error { _, err := s.Hold(ctx, "AC1", backend.Rooms, "RM5", b, time.Hour); return err }},
		{"Release RM5", func() error { _, err := s.Release(ctx, "AC1", backend.Rooms, "RM5", b); return err }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			t.Fatalf("%s with Redis hung: %v, want it queued", st.op, err)
		}
	}
	t.Logf("5 writes with Redis hung took %v (one deadline of %v, then queued)", time.Since(start), timeout)
	if d := time.Since(start); d > timeout+slack {
		t.Errorf("5 writes with Redis hung took %v, want about one deadline", d)
	}
	_, err := s.Reserve(ctx, "AC1", backend.Rooms, "r2", b, time.Minute)
	if !errors.Is(err, redisstore.ErrBacklog) || !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("Reserve with writes queued: %v, want *UnavailableError with ErrBacklog", err)
	}

	srv.Resume(t)
	resumed = true
	resume := time.Now()
	want := []string{"RM2", "RM3", "RM4"}
	for {
		used, _, err := observer.Used(ctx, "AC1", backend.Rooms)
		if err == nil && used == len(want) {
			break
		}
		if time.Since(resume) > 5*time.Second {
			t.Fatalf("Redis counts %d, %v 5s after SIGCONT; want %v", used, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("queued writes in Redis %v after SIGCONT", time.Since(resume))
	ledgerCheck{t, observer, "AC1", b}.expect(want...)
	// Admission follows Redis at once: 3 of 6 held, 3 more admitted.
	for _, k := range []string{"r2", "r3", "r4"} {
		var err error
		for {
			if _, err = s.Reserve(ctx, "AC1", backend.Rooms, k, b, time.Minute); !errors.Is(err, redisstore.ErrBacklog) {
				break
			}
			time.Sleep(5 * time.Millisecond) // the flusher drops its last batch
		}
		if err != nil {
			t.Fatalf("Reserve(%q) after the write-back: %v", k, err)
		}
	}
	c.reserve("r5", true)
}

// TestQueueBounded: the queue of writes kept while Redis is unreachable is
// bounded; past it, writes are refused with an *UnavailableError again.
func TestQueueBounded(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(100*time.Millisecond))
	t.Cleanup(func() { _ = s.Close() })
	srv.Pause(t)
	t.Cleanup(func() { srv.Resume(t) })
	b := &backend.Bounds{Limit: 5, Hysteresis: 1}
	ctx := context.Background()
	for i := range redisstore.MaxQueued {
		if _, err := s.Hold(ctx, "AC1", backend.Rooms, fmt.Sprintf("RM%d", i), b, time.Hour); err != nil {
			t.Fatalf("Hold %d with Redis hung: %v, want it queued", i, err)
		}
	}
	_, err := s.Hold(ctx, "AC1", backend.Rooms, "one-too-many", b, time.Hour)
	if !errors.Is(err, redisstore.ErrUnavailable) {
		t.Errorf("Hold past the queue's bound (%d): %v, want *UnavailableError", redisstore.MaxQueued, err)
	}
}

// TestSentinelMasterHangs: through Sentinel, with a failover client of
// default options, the master SIGSTOPped: every operation returns within the
// deadline while the sentinel declares it down and promotes the replica;
// then the store works on the new master, under either policy.
func TestSentinelMasterHangs(t *testing.T) {
	skipSentinelIfShort(t)
	t.Parallel() // its own servers, and mostly waiting for the sentinel
	for _, policy := range []redisstore.FailurePolicy{redisstore.FailClosed, redisstore.FailLocal} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			sen := redistest.StartSentinel(t)
			const timeout = 300 * time.Millisecond
			prefix := redistest.Prefix(t)
			opts := []redisstore.Option{redisstore.WithPrefix(prefix), redisstore.WithTimeout(timeout)}
			if policy == redisstore.FailLocal {
				opts = append(opts, redisstore.WithFailurePolicy(policy), redisstore.WithLocalShare(0.5))
			}
			s := newStore(t, sen.Client(t, nil), opts...)
			t.Cleanup(func() { _ = s.Close() })
			b := &backend.Bounds{Limit: 100, Hysteresis: 1}
			ctx := context.Background()
			if _, err := s.Hold(ctx, "AC1", backend.Rooms, "RM-before", b, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := sen.Client(t, nil).Do(ctx, "WAIT", 1, 2000).Err(); err != nil {
				t.Fatal(err)
			}

			sen.Master.Pause(t)
			t.Cleanup(func() { sen.Master.Resume(t) })
			stop := make(chan struct{})
			var mu sync.Mutex
			var longest time.Duration
			var wg sync.WaitGroup
			stopped := false
			halt := func() {
				if !stopped {
					stopped = true
					close(stop)
					wg.Wait()
				}
			}
			defer halt()
			for w := range 4 {
				wg.Go(func() {
					// About 100 operations a second each: a steady load, as
					// of callbacks and creates.
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-tick.C:
						}
						start := time.Now()
						op, err := opMix(s, w*1000+i)
						d := time.Since(start)
						mu.Lock()
						longest = max(longest, d)
						mu.Unlock()
						if d > timeout+slack {
							t.Errorf("%s with the master hung returned after %v (%v), want within %v", op, d, err, timeout)
						}
						if err != nil && !errors.Is(err, redisstore.ErrUnavailable) && !errors.Is(err, quota.ErrExceeded) {
							t.Errorf("%s with the master hung: %v, want success or *UnavailableError", op, err)
						}
					}
				})
			}
			paused := time.Now()
			sen.WaitPromoted(t)
			promoted := time.Since(paused)
			var ok time.Duration
			for {
				_, err := s.Reserve(ctx, "AC1", backend.Rooms, "after", b, time.Minute)
				if err == nil && !s.Degraded() {
					ok = time.Since(paused)
					break
				}
				if time.Since(paused) > 20*time.Second {
					t.Fatalf("no reservation from the new master within 20s of the pause (last: %v)", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			halt()
			t.Logf("%v: replica promoted %v after the pause; first reservation from the new master %v after the pause; longest call %v (deadline %v)",
				policy, promoted.Round(time.Millisecond), ok.Round(time.Millisecond), longest, timeout)
			observer := newStore(t, sen.Client(t, nil), redisstore.WithPrefix(prefix))
			for _, k := range []string{"RM-before", "after"} {
				if h, err := observer.Holds(ctx, "AC1", backend.Rooms, k); err != nil || !h {
					t.Errorf("the new master holds %q: %v, %v; want true", k, h, err)
				}
			}
		})
	}
}

// TestClusterNodeHangs: on a Redis Cluster with one master SIGSTOPped, the
// operations on accounts it serves return within the deadline, and those
// of the other masters' accounts go on.
func TestClusterNodeHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster of three masters (seconds); run without -short")
	}
	t.Parallel() // its own servers
	cl := redistest.StartCluster(t, 3)
	rdb := cl.Client(t, nil)
	const timeout = 300 * time.Millisecond
	s := newStore(t, rdb, redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(timeout))
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	b := &backend.Bounds{Limit: 5, Hysteresis: 1}
	// An account on the paused master, and one elsewhere.
	hung := cl.Nodes[0]
	var onHung, elsewhere string
	for i := 0; onHung == "" || elsewhere == ""; i++ {
		acct := fmt.Sprintf("AC%032d", i)
		n, err := rdb.ClusterKeySlot(ctx, "x:{"+acct+"}:y").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n < 16384/3 {
			onHung = cmp(onHung, acct)
		} else {
			elsewhere = cmp(elsewhere, acct)
		}
	}
	for _, a := range []string{onHung, elsewhere} {
		if _, err := s.Reserve(ctx, a, backend.Rooms, "r0", b, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	hung.Pause(t)
	t.Cleanup(func() { hung.Resume(t) })
	var longest time.Duration
	for i := range 4 {
		start := time.Now()
		_, err := s.Reserve(ctx, onHung, backend.Rooms, fmt.Sprintf("r%d", i+1), b, time.Minute)
		d := time.Since(start)
		longest = max(longest, d)
		var te *redisstore.TimeoutError
		if !errors.As(err, &te) || d > timeout+slack {
			t.Errorf("Reserve on the hung master: %v after %v, want a *TimeoutError within %v", err, d, timeout)
		}
		if _, err := s.Reserve(ctx, elsewhere, backend.Rooms, fmt.Sprintf("r%d", i+1), b, time.Minute); err != nil {
			t.Errorf("Reserve on another master while one hangs: %v", err)
		}
	}
	t.Logf("longest Reserve on the hung master: %v (deadline %v)", longest, timeout)
}

// cmp returns cur if set, else v.
func cmp(cur, v string) string {
	if cur != "" {
		return cur
	}
	return v
}
