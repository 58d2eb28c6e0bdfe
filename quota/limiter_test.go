package quota_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
)

// The adaptive-rate tests run in a synctest bubble: time is fake, the
// Limiter's waits and the simulated server's bucket read the same clock, and
// nothing sleeps in real time.

// outcome counts one limiter's answers in a simulation.
type outcome struct{ ok, throttled int }

// simulate drives each limiter from its own goroutine, one request after
// another as fast as its bucket lets it, against server (Twilio's bucket for
// the account) for d of fake time, and counts the answers each got after
// skip. It must run in a synctest bubble.
func simulate(lims []*quota.Limiter, server *rate.Limiter, d, skip time.Duration) []outcome {
	out := make([]outcome, len(lims))
	start := time.Now()
	var wg sync.WaitGroup
	for i, l := range lims {
		wg.Go(func() {
			ctx := context.Background()
			for time.Since(start) < d {
				if err := l.Wait(ctx, quota.Write); err != nil {
					panic(err)
				}
				time.Sleep(time.Duration(rand.IntN(10000)) * time.Microsecond) // to the server
				counted := time.Since(start) >= skip
				if server.Allow() {
					l.Succeeded(ctx, quota.Write)
					if counted {
						out[i].ok++
					}
				} else {
					l.Throttled(ctx, quota.Write)
					if counted {
						out[i].throttled++
					}
				}
				time.Sleep(time.Duration(rand.IntN(10000)) * time.Microsecond) // and back
			}
		})
	}
	wg.Wait()
	return out
}

func TestLimiterKnownQuotaUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, newMem(t), acct, quota.Limits{WritesPerSecond: 20})
		server := rate.NewLimiter(20, 20)
		o := simulate([]*quota.Limiter{l}, server, 30*time.Second, 0)[0]
		if o.throttled != 0 || l.Factor(quota.Write) != 1 {
			t.Fatalf("at the real quota: %d throttled, factor %v; want 0 and 1", o.throttled, l.Factor(quota.Write))
		}
		// 20 of burst, then 20/s for 30 s (less the round trips).
		if o.ok < 580 {
			t.Fatalf("%d accepted in 30 s at 20/s, want about 620", o.ok)
		}
	})
}

func TestLimiterFindsLowerQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		l := newLimiter(t, newMem(t), acct, quota.Limits{WritesPerSecond: 20},
			quota.WithLogger(slog.New(&logs)))
		server := rate.NewLimiter(10, 10) // the account allows 10 writes/s
		o := simulate([]*quota.Limiter{l}, server, 60*time.Second, 10*time.Second)[0]
		share := float64(o.ok) / 500
		thr := float64(o.throttled) / float64(o.ok+o.throttled)
		t.Logf("seconds 10-60: %d accepted (%.1f%% of the real quota), %d throttled (%.1f%%), estimate %.2f/s",
			o.ok, 100*share, o.throttled, 100*thr, l.Rate(quota.Write).PerSecond*l.Factor(quota.Write))
		// The load harness holds the targets (95%, 2%) against the
		// emulator; here the bounds leave room for the jitter's randomness.
		if share < 0.93 || thr > 0.04 {
			t.Errorf("got %.1f%% of the real quota with %.1f%% 429s; want >= 93%% and <= 4%%", 100*share, 100*thr)
		}
		// The last probe may still be draining Twilio's burst: above 10, not far.
		if e := l.Rate(quota.Write).PerSecond * l.Factor(quota.Write); e < 9 || e > 13.5 {
			t.Errorf("estimate (Rate.PerSecond*Factor) = %v writes/s, want about 10", e)
		}
		msgs := logs.messages()
		if len(msgs) != 1 || !strings.Contains(msgs[0], "the account appears to allow") || !strings.Contains(msgs[0], "configured 20") {
			t.Fatalf("logged %q, want one line saying what the account appears to allow", msgs)
		}
		var est float64
		if _, err := fmt.Sscanf(msgs[0][strings.Index(msgs[0], "allow")+6:], "%g", &est); err != nil || est < 8 || est > 12 {
			t.Errorf("logged estimate %v (%v), want about 10", est, err)
		}
	})
}

func TestLimiterFairSplitWithoutSharedStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Four processes, each with its own store, share an account of 20/s.
		var lims []*quota.Limiter
		for range 4 {
			lims = append(lims, newLimiter(t, newMem(t), acct, quota.Limits{WritesPerSecond: 20}))
		}
		server := rate.NewLimiter(20, 20)
		out := simulate(lims, server, 60*time.Second, 10*time.Second)
		// The load harness measures how close to fair the split comes; here
		// every process must keep a real share and together they must use
		// the quota with few 429s.
		var ok, thr int
		for i, o := range out {
			ok += o.ok
			thr += o.throttled
			if share := float64(o.ok) / 50 / 5; share < 0.3 {
				t.Errorf("process %d: %.2f writes/s, starved (a fair share is 5/s)", i, float64(o.ok)/50)
			}
		}
		t.Logf("seconds 10-60: %d accepted (%.1f%% of the quota), %d throttled (%.1f%%), per process %v",
			ok, 100*float64(ok)/1000, thr, 100*float64(thr)/float64(ok+thr), out)
		if float64(ok) < 0.95*1000 || float64(thr) > 0.06*float64(ok+thr) {
			t.Errorf("got %d of 1000 with %d 429s; want >= 95%% and <= 6%% 429s", ok, thr)
		}
	})
}

// TestLimiterSharedFactorHeals: a throttle seen by one Limiter, then that
// Limiter gone, and the store's factor back at 1 within the documented
// bound: probed up by another busy Limiter, or expired when idle.
func TestLimiterSharedFactorHeals(t *testing.T) {
	for _, busy := range []bool{true, false} {
		name := map[bool]string{true: "probed by a busy limiter", false: "expired when idle"}[busy]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				store := newMem(t)
				a := newLimiter(t, store, acct, quota.Limits{WritesPerSecond: 20})
				for range 30 {
					a.Throttled(ctx, quota.Write)
				}
				f, _ := store.RateFactor(ctx, acct, backend.Write)
				if f >= 1 {
					t.Fatalf("factor after 429s = %v, want < 1", f)
				}
				// a is gone; b starts on the same store.
				b := newLimiter(t, store, acct, quota.Limits{WritesPerSecond: 20})
				start := time.Now()
				bound := quota.FactorTTL + time.Second
				if busy {
					bound = quota.HealTime(f)
				}
				for time.Since(start) <= bound {
					if busy {
						if err := b.Wait(ctx, quota.Write); err != nil {
							t.Fatal(err)
						}
						b.Succeeded(ctx, quota.Write)
					} else {
						time.Sleep(100 * time.Millisecond)
					}
					if f, _ := store.RateFactor(ctx, acct, backend.Write); f == 1 {
						t.Logf("factor %v back at 1 after %v (bound %v)", f, time.Since(start), bound)
						if busy && b.Factor(quota.Write) != 1 {
							t.Errorf("b's own view %v, want 1", b.Factor(quota.Write))
						}
						return
					}
				}
				f, _ = store.RateFactor(ctx, acct, backend.Write)
				t.Fatalf("store factor %v after %v, want 1", f, bound)
			})
		})
	}
}

func TestLimiterThrottleBurstCountsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := newMem(t)
		l := newLimiter(t, store, acct, quota.Limits{WritesPerSecond: 20})
		l.Throttled(ctx, quota.Write)
		f1 := l.Factor(quota.Write)
		if f1 != quota.DecreaseFactor {
			t.Fatalf("factor after one 429 with nothing measured = %v, want %v", f1, quota.DecreaseFactor)
		}
		for range 10 {
			l.Throttled(ctx, quota.Write) // the same burst, within DecisionGap
		}
		if f := l.Factor(quota.Write); f != f1 {
			t.Fatalf("factor %v after a burst of 429s, want %v: one decision per gap", f, f1)
		}
		if f, _ := store.RateFactor(ctx, acct, backend.Write); f != f1 {
			t.Fatalf("store factor %v, want %v", f, f1)
		}
		if l.Factor(quota.Read) != 1 {
			t.Fatal("reads slowed by a write throttle")
		}
		// After the gap, 429s are acted on again.
		time.Sleep(quota.DecisionGap)
		for range quota.MinSamples {
			l.Throttled(ctx, quota.Write)
		}
		if f := l.Factor(quota.Write); f >= f1 {
			t.Fatalf("factor %v after 429s past the gap, want below %v", f, f1)
		}
	})
}

// blockingStore blocks AdjustRateFactor until release is closed and records
// the ctx it was given.
type blockingStore struct {
	backend.Store
	entered chan struct{}
	release chan struct{}
	gotCtx  context.Context
}

func (s *blockingStore) AdjustRateFactor(ctx context.Context, account string, class backend.Class, from, to float64, ttl time.Duration) (float64, error) {
	s.gotCtx = ctx
	close(s.entered)
	<-s.release
	return s.Store.AdjustRateFactor(ctx, account, class, from, to, ttl)
}

type ctxKey struct{}

func TestLimiterNoStoreCallUnderLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &blockingStore{Store: newMem(t), entered: make(chan struct{}), release: make(chan struct{})}
		l := newLimiter(t, st, acct, quota.Limits{WritesPerSecond: 20})
		ctx := context.WithValue(context.Background(), ctxKey{}, "caller")
		done := make(chan struct{})
		go func() {
			l.Throttled(ctx, quota.Write)
			close(done)
		}()
		<-st.entered
		// The store call is in flight: the Limiter answers meanwhile.
		l.Throttled(ctx, quota.Write)
		l.Succeeded(ctx, quota.Write)
		_ = l.Factor(quota.Write)
		if err := l.Wait(ctx, quota.Write); err != nil {
			t.Fatal(err)
		}
		close(st.release)
		<-done
		if st.gotCtx.Value(ctxKey{}) != "caller" {
			t.Error("the store was not called with the caller's ctx")
		}
		if f := l.Factor(quota.Write); f != quota.DecreaseFactor {
			t.Errorf("factor %v, want %v", f, quota.DecreaseFactor)
		}
	})
}

func TestLimiterCancelledWaitReturnsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, newMem(t), acct, quota.Limits{WritesPerSecond: 1, WriteBurst: 1})
		bg := context.Background()
		if err := l.Wait(bg, quota.Write); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel := context.WithCancel(bg)
		time.AfterFunc(100*time.Millisecond, cancel)
		if err := l.Wait(ctx, quota.Write); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		// The abandoned token went back: the next one is due 1 s after the
		// first, not 2 s.
		if err := l.Wait(bg, quota.Write); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != time.Second {
			t.Fatalf("next token after a cancelled wait came after %v, want 1s", el)
		}
	})
}

func TestZeroLimiter(t *testing.T) {
	var l quota.Limiter
	if err := l.Wait(context.Background(), quota.Write); !errors.Is(err, quota.ErrZeroLimiter) {
		t.Fatalf("zero Limiter Wait = %v, want ErrZeroLimiter", err)
	}
	l.Throttled(context.Background(), quota.Write)
	l.Succeeded(context.Background(), quota.Write)
	if f := l.Factor(quota.Write); f != 1 {
		t.Fatalf("zero Limiter Factor = %v, want 1", f)
	}
	if _, err := quota.NewLimiter(nil, acct, quota.Limits{}); err == nil {
		t.Fatal("NewLimiter with a nil store: no error")
	}
}

func TestHealTime(t *testing.T) {
	// From MinFactor, 19 steps of IncreaseStep plus the first read of the
	// store, each at most 1.5 probe intervals.
	if got, want := quota.HealTime(quota.MinFactor), 30*time.Second; got != want {
		t.Errorf("HealTime(MinFactor) = %v, want %v", got, want)
	}
	if got := quota.HealTime(1); got != 0 {
		t.Errorf("HealTime(1) = %v, want 0", got)
	}
	if got, want := quota.HealTime(0.5), 16500*time.Millisecond; got != want {
		t.Errorf("HealTime(0.5) = %v, want %v", got, want)
	}
}

// logBuffer is a slog.Handler keeping the messages logged at Warn and above.
type logBuffer struct {
	mu   sync.Mutex
	msgs []string
}

func (b *logBuffer) Enabled(context.Context, slog.Level) bool { return true }
func (b *logBuffer) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		b.mu.Lock()
		b.msgs = append(b.msgs, r.Message)
		b.mu.Unlock()
	}
	return nil
}
func (b *logBuffer) WithAttrs([]slog.Attr) slog.Handler { return b }
func (b *logBuffer) WithGroup(string) slog.Handler      { return b }
func (b *logBuffer) messages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

func TestLimiterQueueBeyondHorizonInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 1/s, burst 1: the first caller goes at once, the second takes a
		// token 1 s ahead, the others (2 s and more ahead, beyond the
		// horizon) queue in the Limiter and are served in arrival order.
		l := newLimiter(t, newMem(t), acct, quota.Limits{WritesPerSecond: 1, WriteBurst: 1})
		start := time.Now()
		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if err := l.Wait(context.Background(), quota.Write); err != nil {
					t.Error(err)
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			})
			time.Sleep(10 * time.Millisecond) // arrive in order
		}
		wg.Wait()
		for i, v := range order {
			if v != i {
				t.Fatalf("served in order %v, want arrival order", order)
			}
		}
		// Six tokens at 1/s: the last one 5 s after the first.
		if el := time.Since(start); el < 5*time.Second || el > 5*time.Second+quota.ReserveHorizon {
			t.Errorf("six tokens at 1/s took %v, want about 5s", el)
		}
	})
}
