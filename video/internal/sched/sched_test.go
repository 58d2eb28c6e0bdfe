package sched

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// interval is the token interval of the simulated quota: 20 writes/s.
const interval = 50 * time.Millisecond

// flow is an open-loop source of calls: one call every 1/rate seconds.
type flow struct {
	prio   Priority
	tenant string
	weight float64
	rate   float64 // calls per second offered
}

// result is what a flow got.
type result struct {
	offered, granted int
	maxWait          time.Duration
}

// simulate runs flows for d against a Scheduler whose baton holder holds a
// token for one interval (the rate limiter's pace), in synctest's fake time,
// and counts the grants made before d.
func simulate(t *testing.T, flows []flow, d time.Duration) []result {
	t.Helper()
	return simulateWith(t, Config{}, flows, d)
}

// simulateWith is simulate with a Scheduler configured by cfg.
func simulateWith(t *testing.T, cfg Config, flows []flow, d time.Duration) []result {
	t.Helper()
	out := make([]result, len(flows))
	synctest.Test(t, func(t *testing.T) {
		s := New(cfg)
		ctx, cancel := context.WithCancel(context.Background())
		end := time.Now().Add(d)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, f := range flows {
			wg.Go(func() {
				every := time.Duration(float64(time.Second) / f.rate)
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					mu.Lock()
					out[i].offered++
					mu.Unlock()
					wg.Go(func() {
						asked := time.Now()
						if err := s.Enter(ctx, f.prio, f.tenant, f.weight); err != nil {
							return
						}
						if time.Now().Before(end) {
							mu.Lock()
							out[i].granted++
							out[i].maxWait = max(out[i].maxWait, time.Since(asked))
							mu.Unlock()
						}
						time.Sleep(interval) // the token
						s.Leave()
					})
				}
			})
		}
		time.Sleep(d)
		cancel()
		wg.Wait()
		if n := s.Tenants(); n != 0 {
			t.Errorf("%d tenants kept after every caller left", n)
		}
	})
	return out
}

func TestPriorityServedFirstUnderBackgroundFlood(t *testing.T) {
	// Background offers 3× the quota, normal 20% of it.
	r := simulate(t, []flow{
		{prio: Background, rate: 60},
		{prio: Normal, rate: 4},
	}, 20*time.Second)
	bg, nm := r[0], r[1]
	if nm.granted < nm.offered-1 {
		t.Errorf("normal got %d of %d", nm.granted, nm.offered)
	}
	// A normal call waits at most for the token in progress and one more.
	if nm.maxWait > 2*interval {
		t.Errorf("normal waited up to %v, want ≤ %v", nm.maxWait, 2*interval)
	}
	total := bg.granted + nm.granted
	if want := int(20*time.Second/interval) - 1; total < want {
		t.Errorf("granted %d in total, want ≥ %d (the quota)", total, want)
	}
}

func TestCriticalServedFirstUnderNormalFlood(t *testing.T) {
	r := simulate(t, []flow{
		{prio: Normal, rate: 60},
		{prio: Critical, rate: 2},
	}, 10*time.Second)
	if c := r[1]; c.granted < c.offered-1 || c.maxWait > 2*interval {
		t.Errorf("critical got %d of %d, waited up to %v", c.granted, c.offered, c.maxWait)
	}
}

func TestGuaranteedShareOfLowerLevel(t *testing.T) {
	// Normal floods at 3×; background still gets its guaranteed 5%.
	r := simulate(t, []flow{
		{prio: Normal, rate: 60},
		{prio: Background, rate: 60},
	}, 20*time.Second)
	share := float64(r[1].granted) / float64(r[0].granted+r[1].granted)
	if share < 0.045 || share > 0.06 {
		t.Errorf("background share %.3f, want about %.2f", share, DefaultShares[Background])
	}
}

// TestSharesAtMostSeventyPercent: with background's share at its largest
// (0.7, video.MaxPriorityShares) and both levels flooding, background gets
// 70% and normal the last 30%; with strict priority (Strict) background
// gets nothing while normal waits, and everything once normal is idle.
func TestSharesAtMostSeventyPercent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shares [Levels]float64
		want   float64 // background's share of the grants
	}{
		{"background 0.7", [Levels]float64{Background: 0.7}, 0.7},
		{"strict", [Levels]float64{Critical: Strict}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := simulateWith(t, Config{Shares: tc.shares}, []flow{
				{prio: Normal, rate: 60},
				{prio: Background, rate: 60},
			}, 20*time.Second)
			share := float64(r[1].granted) / float64(r[0].granted+r[1].granted)
			t.Logf("background %d, normal %d: background share %.3f", r[1].granted, r[0].granted, share)
			if math.Abs(share-tc.want) > 0.01 {
				t.Errorf("background share %.3f, want %.2f", share, tc.want)
			}
		})
	}
	r := simulateWith(t, Config{Shares: [Levels]float64{Critical: Strict}}, []flow{{prio: Background, rate: 60}}, 10*time.Second)
	if want := int(10*time.Second/interval) - 1; r[0].granted < want {
		t.Errorf("strict: background alone got %d, want ≥ %d", r[0].granted, want)
	}
}

// TestTenantStatsTopAndOther: TenantStats names the tenants that waited
// most and sums the rest under OtherTenants; refusals are counted apart
// from waits.
func TestTenantStatsTopAndOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{})
		if !s.TryEnter() {
			t.Fatal("TryEnter refused a free baton")
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		for i, n := range []int{3, 2, 1, 1} {
			name := string(rune('a' + i))
			for range n {
				wg.Go(func() {
					if err := s.Enter(ctx, Normal, name, 1); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(interval)
					s.Leave()
				})
			}
		}
		synctest.Wait()
		s.Leave()
		wg.Wait()
		s.Refused(Normal, "d")
		got := s.TenantStats(2)
		if len(got) != 3 || got[0].Tenant != "a" || got[0].Queued != 3 || got[1].Tenant != "b" || got[1].Queued != 2 ||
			got[2].Tenant != OtherTenants || got[2].Queued != 2 || got[2].Refused != 1 {
			t.Errorf("TenantStats(2) = %+v", got)
		}
		if st := s.Stats(Normal); st.Queued != 7 || st.Refused != 1 || st.Waited <= 0 {
			t.Errorf("normal stats %+v", st)
		}
	})
}

func TestIdleLevelLends(t *testing.T) {
	// Background alone takes the whole quota.
	r := simulate(t, []flow{{prio: Background, rate: 60}}, 10*time.Second)
	if want := int(10*time.Second/interval) - 1; r[0].granted < want {
		t.Errorf("background alone got %d, want ≥ %d", r[0].granted, want)
	}
}

func TestTenantFairShares(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rates, wts [2]float64
		want       [2]float64 // share of the grants; <0: all it offered
	}{
		{"small gets all it asks", [2]float64{60, 8}, [2]float64{1, 1}, [2]float64{0, -1}},
		{"both flood, equal weights", [2]float64{60, 60}, [2]float64{1, 1}, [2]float64{0.5, 0.5}},
		{"both flood, weights 3:1", [2]float64{60, 60}, [2]float64{3, 1}, [2]float64{0.75, 0.25}},
		{"unequal floods, equal weights", [2]float64{100, 25}, [2]float64{0, 0}, [2]float64{0.5, 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := simulate(t, []flow{
				{prio: Normal, tenant: "big", weight: tc.wts[0], rate: tc.rates[0]},
				{prio: Normal, tenant: "small", weight: tc.wts[1], rate: tc.rates[1]},
			}, 20*time.Second)
			total := float64(r[0].granted + r[1].granted)
			if want := float64(20*time.Second/interval) - 1; total < want {
				t.Errorf("granted %v in total, want ≥ %v", total, want)
			}
			for i, w := range tc.want {
				switch {
				case w < 0:
					if r[i].granted < r[i].offered-1 {
						t.Errorf("tenant %d got %d of %d", i, r[i].granted, r[i].offered)
					}
				case w > 0:
					if got := float64(r[i].granted) / total; math.Abs(got-w)/w > 0.05 {
						t.Errorf("tenant %d share %.3f, want within 5%% of %.2f", i, got, w)
					}
				}
			}
		})
	}
}

func TestCanceledWaiterLeavesNoTrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{})
		if !s.TryEnter() {
			t.Fatal("TryEnter refused a free baton")
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- s.Enter(ctx, Background, "acme", 1) }()
		synctest.Wait()
		if st := s.Stats(Background); st.Waiting != 1 {
			t.Fatalf("waiting %d, want 1", st.Waiting)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Enter = %v, want context.Canceled", err)
		}
		if st := s.Stats(Background); st.Waiting != 0 || st.Canceled != 1 || st.Granted != 0 {
			t.Errorf("stats %+v after cancel", st)
		}
		if n := s.Tenants(); n != 0 {
			t.Errorf("%d tenants kept", n)
		}
		s.Leave()
		if !s.TryEnter() {
			t.Error("baton not free after Leave")
		}
	})
}

func TestFastPathAllocatesNothing(t *testing.T) {
	s := New(Config{})
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() {
		if err := s.Enter(ctx, Background, "acme", 2); err != nil {
			t.Fatal(err)
		}
		s.Leave()
	}); n != 0 {
		t.Errorf("Enter+Leave allocated %v times per call", n)
	}
}

func BenchmarkEnterLeave(b *testing.B) {
	s := New(Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Enter(ctx, Normal, "acme", 1); err != nil {
			b.Fatal(err)
		}
		s.Leave()
	}
}

// TestYieldToHigherLevel: a background holder waiting to ask the store
// again gives the baton to a normal caller that arrives meanwhile and has it
// back when that caller leaves; with nobody arriving it keeps the baton for
// the whole wait.
func TestYieldToHigherLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{})
		ctx := context.Background()
		if !s.TryEnter() {
			t.Fatal("TryEnter refused a free baton")
		}
		start := time.Now()
		if yielded, err := s.Yield(ctx, Background, "", 1, time.Second); yielded || err != nil {
			t.Fatalf("Yield with nobody waiting = %v, %v", yielded, err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Yield with nobody arriving returned after %v, want 1s", d)
		}
		type res struct {
			yielded bool
			err     error
			at      time.Duration
		}
		done := make(chan res, 1)
		start = time.Now()
		go func() {
			y, err := s.Yield(ctx, Background, "", 1, time.Minute)
			done <- res{y, err, time.Since(start)}
		}()
		time.Sleep(100 * time.Millisecond)
		if err := s.Enter(ctx, Normal, "", 1); err != nil {
			t.Fatal(err)
		}
		entered := time.Since(start)
		time.Sleep(interval)
		s.Leave()
		r := <-done
		if !r.yielded || r.err != nil || entered != 100*time.Millisecond || r.at != 100*time.Millisecond+interval {
			t.Errorf("normal entered at %v; Yield = %v, %v at %v; want the baton at 100ms and back at %v",
				entered, r.yielded, r.err, r.at, 100*time.Millisecond+interval)
		}
		s.Leave()
		if !s.TryEnter() {
			t.Error("baton not free after the holder left")
		}
	})
}
