package quota_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
)

const acct = "AC00000000000000000000000000000001"

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    quota.Limits
		bad  string
	}{
		{"zero is defaults", quota.Limits{}, ""},
		{"unlimited", quota.Limits{ConcurrentRooms: quota.Unlimited, WritesPerSecond: quota.Unlimited}, ""},
		{"negative rooms", quota.Limits{ConcurrentRooms: -5}, "ConcurrentRooms"},
		{"negative reads", quota.Limits{ReadsPerSecond: -0.5}, "ReadsPerSecond"},
		{"negative burst", quota.Limits{WriteBurst: -1}, "burst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate()
			if tc.bad == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !contains(err.Error(), tc.bad) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.bad)
			}
		})
	}
	d := quota.Limits{}.WithDefaults()
	if d.ConcurrentRooms != 10000 || d.ConcurrentParticipants != 10000 || d.ReadsPerSecond != 80 || d.WritesPerSecond != 20 {
		t.Fatalf("WithDefaults() = %+v, want Twilio's defaults", d)
	}
}

func contains(s, sub string) bool { return len(sub) == 0 || (len(s) >= len(sub) && index(s, sub) >= 0) }

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestLimiterPacesWrites(t *testing.T) {
	store := newMem(t)
	lim := newLimiter(t, store, acct, quota.Limits{WritesPerSecond: 50})
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 11; i++ {
		if err := lim.Wait(ctx, quota.Write); err != nil {
			t.Fatal(err)
		}
	}
	// Burst 1 at 50/s: the 11th token is due 200 ms after the first.
	if el := time.Since(start); el < 190*time.Millisecond {
		t.Fatalf("11 writes at 50/s took %v, want >= 200ms", el)
	}
	// Reads have their own bucket: not slowed by the writes.
	start = time.Now()
	if err := lim.Wait(ctx, quota.Read); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Fatalf("first read waited %v behind writes", el)
	}
}

// TestLimiterDeadlineFailsAtOnce: a Wait whose deadline comes before its
// token fails at once with CauseLocalDeadline and takes nothing. On
// synctest's fake time, so "at once" is exact and the later waits cost no
// real time.
func TestLimiterDeadlineFailsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := newLimiter(t, newMem(t), acct, quota.Limits{WritesPerSecond: 1})
		if err := lim.Wait(context.Background(), quota.Write); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := lim.Wait(ctx, quota.Write)
		var rl *quota.RateLimitError
		if !errors.As(err, &rl) || rl.Cause != quota.CauseLocalDeadline || rl.Class != quota.Write {
			t.Fatalf("Wait = %v, want *RateLimitError{CauseLocalDeadline}", err)
		}
		if !errors.Is(err, quota.ErrRateLimited) {
			t.Fatalf("errors.Is(%v, ErrRateLimited) = false", err)
		}
		if rl.Wait < 500*time.Millisecond {
			t.Fatalf("reported wait %v, want about 1s", rl.Wait)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Fatalf("refusal took %v, want immediate", el)
		}
		// Nothing was taken: with the deadline gone the next token is still due within 1s.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel2()
		if err := lim.Wait(ctx2, quota.Write); err != nil {
			t.Fatalf("Wait after refusal = %v", err)
		}
	})
}

// TestLimiterCancelAbortsWait: a Wait for a token 2 s ahead returns
// context.Canceled as soon as its context is cancelled. In a synctest
// bubble, so the 30 ms before the cancel and the time it takes are fake.
func TestLimiterCancelAbortsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := newLimiter(t, newMem(t), acct, quota.Limits{ReadsPerSecond: 0.5})
		ctx, cancel := context.WithCancel(context.Background())
		if err := lim.Wait(ctx, quota.Read); err != nil {
			t.Fatal(err)
		}
		go func() { time.Sleep(30 * time.Millisecond); cancel() }()
		start := time.Now()
		if err := lim.Wait(ctx, quota.Read); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el > time.Second {
			t.Fatalf("cancel took %v", el)
		}
	})
}

func TestLedgerRace(t *testing.T) {
	var rising atomic.Int32
	l, err := quota.NewLedger(newMem(t), acct, quota.Limits{ConcurrentRooms: 10},
		quota.WithThresholds(func(e quota.Event) {
			if e.Rising {
				rising.Add(1)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.Reserve(context.Background(), quota.Rooms, backend.NewKey(), time.Minute)
			var ex *quota.ExceededError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ex) && ex.Code == 53119 && ex.Limit == 10 && ex.Source == quota.SourceLocal:
				refused.Add(1)
			default:
				t.Errorf("Reserve = %v", err)
			}
		}()
	}
	wg.Wait()
	closeAll(l)
	if ok.Load() != 10 || refused.Load() != 90 {
		t.Fatalf("ok=%d refused=%d, want 10 and 90", ok.Load(), refused.Load())
	}
	if rising.Load() != 1 {
		t.Fatalf("rising events = %d, want exactly 1", rising.Load())
	}
}

func TestLedgerThresholds(t *testing.T) {
	var mu sync.Mutex
	var got []string
	l, err := quota.NewLedger(newMem(t), acct, quota.Limits{ConcurrentRooms: 10},
		quota.WithThresholds(func(e quota.Event) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %.1f rising=%v used=%d code=%d", e.Resource, e.Level, e.Rising, e.Used, e.Code))
			mu.Unlock()
		}, 0.7, 0.9))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 1; i <= 10; i++ {
		k := fmt.Sprintf("k%d", i)
		if err := l.Reserve(ctx, quota.Rooms, k, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := l.Commit(ctx, quota.Rooms, k, fmt.Sprintf("RM%d", i), quota.SourceLocal); err != nil {
			t.Fatal(err)
		}
	}
	// Flapping around 9 does not repeat the 0.9 event (hysteresis of one slot).
	for i := 0; i < 3; i++ {
		_ = l.Release(ctx, quota.Rooms, "RM10", quota.SourceLocal)
		_ = l.Release(ctx, quota.Rooms, "RM9", quota.SourceLocal)
		_ = l.Hold(ctx, quota.Rooms, "RM9", quota.SourceLocal)
	}
	for i := 1; i <= 9; i++ {
		_ = l.Release(ctx, quota.Rooms, fmt.Sprintf("RM%d", i), quota.SourceLocal)
	}
	closeAll(l)
	want := []string{
		"rooms 0.7 rising=true used=7 code=53121",
		"rooms 0.9 rising=true used=9 code=53121",
		"rooms 0.9 rising=false used=7 code=53121",
		"rooms 0.7 rising=false used=5 code=53121",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

func TestLedgerLapseAndFull(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	store := newMem(t, memstore.WithClock(clockFunc(clock)))
	l, err := quota.NewLedger(store, acct, quota.Limits{ConcurrentParticipants: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.Reserve(ctx, quota.Participants, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := l.Reserve(ctx, quota.Participants, "b", time.Minute); err != nil {
		t.Fatal(err)
	}
	var ex *quota.ExceededError
	if err := l.Reserve(ctx, quota.Participants, "c", time.Minute); !errors.As(err, &ex) || ex.Code != 53206 {
		t.Fatalf("third participant: %v, want 53206", err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if used, _, _ := l.Used(ctx, quota.Participants); used != 0 {
		t.Fatalf("used after lapse = %d, want 0", used)
	}
	if err := l.MarkFull(ctx, quota.Participants, time.Second, quota.SourceTwilio, now); err != nil {
		t.Fatal(err)
	}
	if err := l.Reserve(ctx, quota.Participants, "d", time.Minute); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("reserve while marked full = %v", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	if err := l.Reserve(ctx, quota.Participants, "d", time.Minute); err != nil {
		t.Fatalf("reserve after the full mark = %v", err)
	}
}

func TestReserveWait(t *testing.T) {
	l, err := quota.NewLedger(newMem(t), acct, quota.Limits{ConcurrentRooms: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.Reserve(ctx, quota.Rooms, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.ReserveWait(ctx, quota.Rooms, "b", time.Minute) }()
	select {
	case err := <-done:
		t.Fatalf("ReserveWait returned %v while full", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := l.Release(ctx, quota.Rooms, "a", quota.SourceLocal); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ReserveWait after release = %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := l.ReserveWait(short, quota.Rooms, "c", time.Minute); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("ReserveWait past ctx = %v, want ErrExceeded", err)
	}
}

func TestNotifyFromTwilio(t *testing.T) {
	got := make(chan quota.Event, 4)
	l, err := quota.NewLedger(newMem(t), acct, quota.Limits{},
		quota.WithThresholds(func(e quota.Event) { got <- e }))
	if err != nil {
		t.Fatal(err)
	}
	l.Notify(quota.Event{Resource: quota.Rooms, Level: 0.7, Rising: true, Code: 53121, Source: quota.SourceTwilio})
	l.Notify(quota.Event{Resource: quota.Rooms, Level: 0.5, Rising: true, Code: 53121, Source: quota.SourceTwilio})
	closeAll(l)
	l.Close()
	if len(got) != 1 {
		t.Fatalf("delivered %d events, want 1 (only the 0.7 level is registered)", len(got))
	}
	if e := <-got; e.Source != quota.SourceTwilio {
		t.Fatalf("event source %v", e.Source)
	}
}

func TestOptionErrors(t *testing.T) {
	s := newMem(t)
	for i, opt := range []quota.Option{
		quota.WithThresholds(nil),
		quota.WithThresholds(func(quota.Event) {}, 1.5),
		quota.WithThresholds(func(quota.Event) {}, 0),
		quota.WithClock(nil),
		nil,
	} {
		if _, err := quota.NewLedger(s, acct, quota.Limits{}, opt); err == nil || !strings.HasPrefix(err.Error(), "quota: ") {
			t.Errorf("NewLedger option %d: %v, want a quota: error", i, err)
		}
	}
	for i, opt := range []quota.Option{
		quota.WithClock(nil),
		quota.WithThresholds(func(quota.Event) {}), // a Limiter has no thresholds
		nil,
	} {
		if _, err := quota.NewLimiter(s, acct, quota.Limits{}, opt); err == nil || !strings.HasPrefix(err.Error(), "quota: ") {
			t.Errorf("NewLimiter option %d: %v, want a quota: error", i, err)
		}
	}
	if _, err := quota.NewLedger(nil, acct, quota.Limits{}); err == nil {
		t.Error("NewLedger: nil store accepted")
	}
	if _, err := quota.NewLimiter(nil, acct, quota.Limits{}); err == nil {
		t.Error("NewLimiter: nil store accepted")
	}
	if _, err := quota.NewLimiter(s, acct, quota.Limits{ReadsPerSecond: -2}); err == nil {
		t.Error("NewLimiter: invalid limits accepted")
	}
	if _, err := s.AdjustRateFactor(context.Background(), acct, backend.Read, 1, 0, time.Minute); err == nil {
		t.Error("factor 0 accepted")
	}
}

// BenchmarkAcquire compares an uncontended token acquire through the Limiter
// and MemoryStore with a bare rate.Limiter.Wait, in one run.
func BenchmarkAcquire(b *testing.B) {
	ctx := context.Background()
	b.Run("bare-rate.Limiter.Wait", func(b *testing.B) {
		lim := rate.NewLimiter(rate.Limit(1e12), 1<<30)
		b.ReportAllocs()
		for b.Loop() {
			if err := lim.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("quota.Limiter.Wait", func(b *testing.B) {
		lim := newLimiter(b, newMem(b), acct, quota.Limits{ReadsPerSecond: 1e12, ReadBurst: 1 << 30})
		b.ReportAllocs()
		for b.Loop() {
			if err := lim.Wait(ctx, quota.Read); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Blocks of 64 tokens each way, alternating, so that both see the same
	// machine load: each op counts one token of each. Reported: ns per token
	// of each over the whole run, their ratio, and the median of the
	// per-block ratios (of up to 8,192 block pairs), which a preemption
	// landing in one block does not move.
	b.Run("interleaved", func(b *testing.B) {
		bare := rate.NewLimiter(rate.Limit(1e12), 1<<30)
		lim := newLimiter(b, newMem(b), acct, quota.Limits{ReadsPerSecond: 1e12, ReadBurst: 1 << 30})
		const block = 64
		var tBare, tOurs time.Duration
		ratios := make([]float64, 8192)
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			for range block {
				if err := bare.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			t1 := time.Now()
			for range block {
				if err := lim.Wait(ctx, quota.Read); err != nil {
					b.Fatal(err)
				}
			}
			t2 := time.Now()
			tBare += t1.Sub(t0)
			tOurs += t2.Sub(t1)
			ratios[n%len(ratios)] = float64(t2.Sub(t1)) / float64(max(t1.Sub(t0), 1))
			n++
		}
		tokens := float64(b.N) * block
		b.ReportMetric(float64(tBare.Nanoseconds())/tokens, "bare-ns/token")
		b.ReportMetric(float64(tOurs.Nanoseconds())/tokens, "quota-ns/token")
		b.ReportMetric(float64(tOurs)/float64(tBare), "ratio")
		r := ratios[:min(n, len(ratios))]
		slices.Sort(r)
		b.ReportMetric(r[len(r)/2], "median-ratio")
	})
}

// BenchmarkLedgerReserveRelease measures one reserve plus one release.
func BenchmarkLedgerReserveRelease(b *testing.B) {
	l, err := quota.NewLedger(newMem(b), acct, quota.Limits{ConcurrentRooms: 10000},
		quota.WithThresholds(func(quota.Event) {}))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = backend.NewKey()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i&1023]
		i++
		if err := l.Reserve(ctx, quota.Rooms, k, time.Minute); err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx, quota.Rooms, k, quota.SourceLocal); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLedgerMemory reports the heap a MemoryStore ledger keeps per
// tracked slot at 10,000 Rooms and 10,000 Participants (SIDs as Twilio
// writes them, which it holds in 16 bytes, not as the caller's strings).
func BenchmarkLedgerMemory(b *testing.B) {
	const n = 10000
	rooms := make([]string, n)
	parts := make([]string, n)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("RM%032x", i)
		parts[i] = fmt.Sprintf("PA%032x", i)
	}
	ctx := context.Background()
	var perSlot float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		store := newMem(b)
		l, err := quota.NewLedger(store, acct, quota.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		for i := range rooms {
			_ = l.Hold(ctx, quota.Rooms, rooms[i], quota.SourceLocal)
			_ = l.Hold(ctx, quota.Participants, parts[i], quota.SourceLocal)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSlot = float64(after.HeapAlloc-before.HeapAlloc) / (2 * n)
		if used, _, _ := l.Used(ctx, quota.Participants); used != n {
			b.Fatalf("participants used = %d", used)
		}
		l.Close()
		runtime.KeepAlive(store)
	}
	b.ReportMetric(perSlot, "B/slot")
}
