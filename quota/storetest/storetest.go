package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// Lapse durations used by the subtests that wait in real time. They are kept
// short so the suite stays fast; the margin absorbs scheduling delays under -race.
const (
	shortTTL    = 100 * time.Millisecond
	lapseMargin = 150 * time.Millisecond
	longTTL     = time.Hour
)

// Run runs the conformance suite against the stores newStore returns. It may
// return the same store for every call: each subtest uses its own account.
// Subtests run in parallel; the whole suite takes about a second of real time.
func Run(t *testing.T, newStore func(t *testing.T) backend.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s backend.Store, account string)
	}{
		{"TakeToken/Burst", testTokenBurst},
		{"TakeToken/MaxWaitTakesNothing", testTokenMaxWait},
		{"TakeToken/Unlimited", testTokenUnlimited},
		{"TakeToken/ClassesAndAccountsIndependent", testTokenIndependent},
		{"TakeToken/Concurrent", testTokenConcurrent},
		{"ReturnToken", testReturnToken},
		{"RateFactor/ScalesRate", testFactorScales},
		{"RateFactor/Invalid", testFactorInvalid},
		{"RateFactor/LowerWins", testFactorLowerWins},
		{"RateFactor/StaleRaiseDropped", testFactorStaleRaise},
		{"RateFactor/Expires", testFactorExpires},
		{"Reserve/UpToLimit", testReserveLimit},
		{"Reserve/Duplicate", testReserveDuplicate},
		{"Reserve/Unlimited", testReserveUnlimited},
		{"Reserve/Lapse", testReserveLapse},
		{"Reserve/AgainLapsesLater", testReserveAgainLapsesLater},
		{"Reserve/ResourcesAndAccountsIndependent", testReserveIndependent},
		{"Reserve/Concurrent", testReserveConcurrent},
		{"Commit", testCommit},
		{"Commit/Unknown", testCommitUnknown},
		{"Hold/PastLimit", testHoldPastLimit},
		{"Hold/Lapse", testHoldLapse},
		{"Release", testRelease},
		{"Sync", testSync},
		{"Ended/HoldHoldsNothing", testEndedHold},
		{"Ended/CommitDropsReservationOnly", testEndedCommit},
		{"Ended/ReservationGivenBackIsNoEnd", testEndedNotPending},
		{"Ended/BeforeStart", testEndedBeforeStart},
		{"Ended/Sync", testEndedSync},
		{"SyncKeepsNewer", testSyncKeepsNewer},
		{"CrossingSeq", testCrossingSeq},
		{"MarkFull/ClearedByRelease", testFullRelease},
		{"MarkFull/ClearedBySync", testFullSync},
		{"MarkFull/Expires", testFullExpires},
		{"Thresholds/Hysteresis", testThresholds},
		{"Thresholds/Jump", testThresholdJump},
		{"Thresholds/Unlimited", testThresholdUnlimited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			tc.fn(t, s, Account(t))
		})
	}
}

// RunShared checks that two handles on one shared store (for example two
// Redis stores with their own clients on one Redis server) see one state:
// buckets, adaptive factors, ledgers, full marks and threshold crossings,
// each reported to exactly one caller across both handles.
func RunShared(t *testing.T, newPair func(t *testing.T) (a, b backend.Store)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a, b backend.Store, account string)
	}{
		{"Bucket", testSharedBucket},
		{"RateFactor", testSharedFactor},
		{"Ledger", testSharedLedger},
		{"Crossings", testSharedCrossings},
		{"Ended", testSharedEnded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newPair(t)
			tc.fn(t, a, b, Account(t))
		})
	}
}

var accountSeq atomic.Uint64

// Account returns an account name unique to this test and this run, so tests
// sharing one store (or one Redis server across runs) never meet.
func Account(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	return fmt.Sprintf("AC%s-%d-%d", name, time.Now().UnixNano(), accountSeq.Add(1))
}

func bounds(limit int, levels ...float64) *backend.Bounds {
	return &backend.Bounds{Limit: limit, Levels: levels, Hysteresis: 1}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sleep(t *testing.T, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	<-timer.C
}

// within fails unless got is in [want-below, want+above].
func within(t *testing.T, what string, got, want, below, above time.Duration) {
	t.Helper()
	if got < want-below || got > want+above {
		t.Errorf("%s: wait %v, want %v (-%v/+%v)", what, got, want, below, above)
	}
}

func take(t *testing.T, s backend.Store, account string, class backend.Class, r backend.Rate, maxWait time.Duration) (time.Duration, bool) {
	t.Helper()
	w, ok, err := s.TakeToken(ctxT(t), account, class, r, maxWait)
	if err != nil {
		t.Fatalf("TakeToken(%s, %v, %v): %v", class, r, maxWait, err)
	}
	return w, ok
}

// The suite reads waits of whole seconds, less the real time that passed
// since the first token of a test was granted (see since), so a busy
// machine does not matter; tol covers the time the calls themselves take.
const tol = 400 * time.Millisecond

// since returns the wait due at d after start, as seen now: d less the time
// that has passed since start, or 0 once d has passed.
func since(start time.Time, d time.Duration) time.Duration {
	return max(d-time.Since(start), 0)
}

// withinSince is within for the wait due at d after start: got is at most
// d, and at least since(start, d) less tol. (It may exceed since(start, d):
// a store's clock may lag this process's, as Redis's cached command time
// does on a busy machine.)
func withinSince(t *testing.T, what string, got time.Duration, start time.Time, d time.Duration) {
	t.Helper()
	want := since(start, d)
	within(t, what, got, want, tol, d-want)
}

func testTokenBurst(t *testing.T, s backend.Store, account string) {
	r := backend.Rate{PerSecond: 1, Burst: 2}
	var start time.Time // just after the first token: its grant came before
	for i, want := range []time.Duration{0, 0, time.Second, 2 * time.Second} {
		w, ok := take(t, s, account, backend.Write, r, time.Minute)
		if !ok {
			t.Fatalf("token %d: refused with maxWait 1m (wait %v)", i+1, w)
		}
		if i == 0 {
			start = time.Now()
			within(t, "token 1 at 1/s burst 2", w, want, tol, 0)
			continue
		}
		withinSince(t, fmt.Sprintf("token %d at 1/s burst 2", i+1), w, start, want)
	}
}

func testTokenMaxWait(t *testing.T, s backend.Store, account string) {
	r := backend.Rate{PerSecond: 1, Burst: 1}
	if w, ok := take(t, s, account, backend.Write, r, 0); !ok || w != 0 {
		t.Fatalf("first token: wait %v ok %v, want 0 true", w, ok)
	}
	start := time.Now() // just after the first token: its grant came before
	// The next token needs about 1s: refused with maxWait 0 and 300ms, taking nothing.
	for _, maxWait := range []time.Duration{0, 300 * time.Millisecond, 300 * time.Millisecond} {
		w, ok := take(t, s, account, backend.Write, r, maxWait)
		if ok {
			t.Fatalf("maxWait %v: took a token needing %v", maxWait, w)
		}
		withinSince(t, fmt.Sprintf("refused token (maxWait %v)", maxWait), w, start, time.Second)
	}
	// Nothing was taken by the refusals: the next token still needs about 1s, not 3s.
	w, ok := take(t, s, account, backend.Write, r, time.Minute)
	if !ok {
		t.Fatalf("token after refusals refused with maxWait 1m (wait %v)", w)
	}
	withinSince(t, "token after refusals", w, start, time.Second)
}

func testTokenUnlimited(t *testing.T, s backend.Store, account string) {
	r := backend.Rate{PerSecond: -1, Burst: 1}
	for i := range 200 {
		if w, ok := take(t, s, account, backend.Read, r, 0); !ok || w != 0 {
			t.Fatalf("unlimited token %d: wait %v ok %v, want 0 true", i+1, w, ok)
		}
	}
}

func testTokenIndependent(t *testing.T, s backend.Store, account string) {
	r := backend.Rate{PerSecond: 1, Burst: 1}
	if _, ok := take(t, s, account, backend.Write, r, 0); !ok {
		t.Fatal("first write token refused")
	}
	if _, ok := take(t, s, account, backend.Write, r, 0); ok {
		t.Fatal("second write token at 1/s burst 1 granted at once")
	}
	if w, ok := take(t, s, account, backend.Read, r, 0); !ok || w != 0 {
		t.Errorf("read token after writes: wait %v ok %v; classes must have their own buckets", w, ok)
	}
	if w, ok := take(t, s, account+"-other", backend.Write, r, 0); !ok || w != 0 {
		t.Errorf("other account's write token: wait %v ok %v; accounts must have their own buckets", w, ok)
	}
}

func testTokenConcurrent(t *testing.T, s backend.Store, account string) {
	// At one token per 100 s, a burst of 5 is all that 50 simultaneous callers can get.
	r := backend.Rate{PerSecond: 0.01, Burst: 5}
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			w, ok, err := s.TakeToken(ctxT(t), account, backend.Write, r, 0)
			if err != nil {
				t.Errorf("TakeToken: %v", err)
				return
			}
			if ok {
				if w != 0 {
					t.Errorf("granted with maxWait 0 but wait %v", w)
				}
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if g := granted.Load(); g != 5 {
		t.Errorf("50 callers at burst 5: %d granted, want exactly 5", g)
	}
}

// adjust calls AdjustRateFactor and checks the factor it returns.
func adjust(t *testing.T, s backend.Store, account string, class backend.Class, from, to float64, ttl time.Duration, want float64) {
	t.Helper()
	f, err := s.AdjustRateFactor(ctxT(t), account, class, from, to, ttl)
	if err != nil || math.Abs(f-want) > backend.FactorTolerance {
		t.Fatalf("AdjustRateFactor(%v -> %v) = %v, %v; want %v", from, to, f, err, want)
	}
}

func factor(t *testing.T, s backend.Store, account string, class backend.Class) float64 {
	t.Helper()
	f, err := s.RateFactor(ctxT(t), account, class)
	if err != nil {
		t.Fatalf("RateFactor: %v", err)
	}
	return f
}

func testReturnToken(t *testing.T, s backend.Store, account string) {
	// 1/s, burst 1: the second token waits a second; given back, the third
	// waits a second again instead of two.
	r := backend.Rate{PerSecond: 1, Burst: 1}
	take(t, s, account, backend.Write, r, 0)
	w, ok := take(t, s, account, backend.Write, r, time.Minute)
	within(t, "second token", w, time.Second, tol, 0)
	if !ok {
		t.Fatal("second token refused")
	}
	if err := s.ReturnToken(ctxT(t), account, backend.Write, r); err != nil {
		t.Fatalf("ReturnToken: %v", err)
	}
	w, _ = take(t, s, account, backend.Write, r, time.Minute)
	within(t, "token after one was given back", w, time.Second, tol, 0)
	// Giving back more than was taken never fills the bucket past its burst.
	r2 := backend.Rate{PerSecond: 1, Burst: 2}
	for range 3 {
		if err := s.ReturnToken(ctxT(t), account, backend.Read, r2); err != nil {
			t.Fatalf("ReturnToken: %v", err)
		}
	}
	for i := range 2 {
		if _, ok := take(t, s, account, backend.Read, r2, 0); !ok {
			t.Fatalf("token %d of burst 2 refused", i+1)
		}
	}
	if _, ok := take(t, s, account, backend.Read, r2, 0); ok {
		t.Error("third token granted at once: returned tokens filled the bucket past its burst")
	}
}

func testFactorScales(t *testing.T, s backend.Store, account string) {
	if f := factor(t, s, account, backend.Write); f != 1 {
		t.Fatalf("RateFactor of a fresh account = %v; want 1", f)
	}
	adjust(t, s, account, backend.Write, 1, 0.5, time.Minute, 0.5)
	if f := factor(t, s, account, backend.Write); f != 0.5 {
		t.Fatalf("RateFactor after a cut to 0.5 = %v; want 0.5", f)
	}
	if f := factor(t, s, account, backend.Read); f != 1 {
		t.Errorf("read factor after slowing writes = %v; want 1", f)
	}
	if f := factor(t, s, account+"-other", backend.Write); f != 1 {
		t.Errorf("other account's factor = %v; want 1", f)
	}
	// 2/s slowed by 0.5 is 1/s: the second token waits about 1s, not 500ms.
	r := backend.Rate{PerSecond: 2, Burst: 1}
	if w, ok := take(t, s, account, backend.Write, r, time.Minute); !ok || w != 0 {
		t.Fatalf("first slowed token: wait %v ok %v", w, ok)
	}
	w, _ := take(t, s, account, backend.Write, r, time.Minute)
	within(t, "second token at 2/s with factor 0.5", w, time.Second, tol, 0)
	// The unslowed read bucket keeps 500ms.
	take(t, s, account, backend.Read, r, time.Minute)
	w, _ = take(t, s, account, backend.Read, r, time.Minute)
	within(t, "second read token at 2/s", w, 500*time.Millisecond, tol, 0)

	adjust(t, s, account, backend.Write, 0.5, 1, time.Minute, 1)
	if f := factor(t, s, account, backend.Write); f != 1 {
		t.Errorf("RateFactor after a raise to 1 = %v; want 1", f)
	}
}

func testFactorInvalid(t *testing.T, s backend.Store, account string) {
	adjust(t, s, account, backend.Write, 1, 0.25, time.Minute, 0.25)
	for _, tc := range []struct {
		f   float64
		ttl time.Duration
	}{{0, time.Minute}, {-0.5, time.Minute}, {1.5, time.Minute}, {math.NaN(), time.Minute}, {math.Inf(1), time.Minute}, {0.5, 0}, {0.5, -time.Second}} {
		var fe *backend.FactorError
		if _, err := s.AdjustRateFactor(ctxT(t), account, backend.Write, 0.25, tc.f, tc.ttl); !errors.As(err, &fe) {
			t.Errorf("AdjustRateFactor(to %v, ttl %v) = %v, want a *backend.FactorError", tc.f, tc.ttl, err)
		}
	}
	if f := factor(t, s, account, backend.Write); f != 0.25 {
		t.Errorf("factor after refused adjustments = %v; want 0.25 unchanged", f)
	}
}

func testFactorLowerWins(t *testing.T, s backend.Store, account string) {
	// Two clients cut from 1 at once: the lower cut wins, whichever comes first.
	adjust(t, s, account, backend.Write, 1, 0.5, time.Minute, 0.5)
	adjust(t, s, account, backend.Write, 1, 0.7, time.Minute, 0.5)
	adjust(t, s, account, backend.Write, 1, 0.4, time.Minute, 0.4)
	// A cut from a stale factor still applies when it is lower.
	adjust(t, s, account, backend.Write, 0.9, 0.3, time.Minute, 0.3)
}

func testFactorStaleRaise(t *testing.T, s backend.Store, account string) {
	adjust(t, s, account, backend.Write, 1, 0.5, time.Minute, 0.5)
	// A raise computed from 0.6 (another client's view) is dropped.
	adjust(t, s, account, backend.Write, 0.6, 0.65, time.Minute, 0.5)
	// From the factor in force it applies, from any client.
	adjust(t, s, account, backend.Write, 0.5, 0.55, time.Minute, 0.55)
	// Concurrent raises from one view: exactly one applies.
	var wg sync.WaitGroup
	var won atomic.Int64
	for i := range 20 {
		wg.Go(func() {
			to := 0.56 + float64(i)/100
			f, err := s.AdjustRateFactor(ctxT(t), account, backend.Write, 0.55, to, time.Minute)
			if err != nil {
				t.Errorf("AdjustRateFactor: %v", err)
			}
			if math.Abs(f-to) <= backend.FactorTolerance {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Errorf("20 concurrent raises from one factor: %d applied, want exactly 1", n)
	}
}

func testFactorExpires(t *testing.T, s backend.Store, account string) {
	adjust(t, s, account, backend.Write, 1, 0.5, 300*time.Millisecond, 0.5)
	r := backend.Rate{PerSecond: 2, Burst: 1}
	sleep(t, 700*time.Millisecond)
	if f := factor(t, s, account, backend.Write); f != 1 {
		t.Fatalf("factor 700ms after a cut with ttl 300ms = %v; want 1 (expired)", f)
	}
	// The bucket runs at the configured rate again.
	take(t, s, account, backend.Write, r, time.Minute)
	w, _ := take(t, s, account, backend.Write, r, time.Minute)
	within(t, "second token after the factor expired", w, 500*time.Millisecond, tol, 0)
	// A raise from the expired value 0.5 is dropped: the factor is 1.
	adjust(t, s, account, backend.Write, 0.5, 0.6, time.Minute, 1)
}

func reserve(t *testing.T, s backend.Store, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) backend.Change {
	t.Helper()
	c, err := s.Reserve(ctxT(t), account, res, key, b, ttl)
	if err != nil {
		t.Fatalf("Reserve(%s, %q): %v", res, key, err)
	}
	return c
}

// refused checks that a Reserve took nothing and reported the refusal as a
// fact (Change.Refused, with the usage that refused it), not as an error.
func refused(t *testing.T, what string, c backend.Change, err error, used, limit int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: error %v, want Change.Refused and no error", what, err)
	}
	if !c.Refused || c.Used != used || c.Limit != limit || c.Changed || len(c.Crossings) != 0 {
		t.Errorf("%s: got %+v, want Refused with Used %d Limit %d, unchanged, no crossings", what, c, used, limit)
	}
}

func expectUsed(t *testing.T, s backend.Store, account string, res backend.Resource, used int, full bool) {
	t.Helper()
	u, f, err := s.Used(ctxT(t), account, res)
	if err != nil {
		t.Fatalf("Used(%s): %v", res, err)
	}
	if u != used || f != full {
		t.Errorf("Used(%s) = %d, full %v; want %d, full %v", res, u, f, used, full)
	}
}

func expectHolds(t *testing.T, s backend.Store, account string, res backend.Resource, key string, want bool) {
	t.Helper()
	h, err := s.Holds(ctxT(t), account, res, key)
	if err != nil {
		t.Fatalf("Holds(%s, %q): %v", res, key, err)
	}
	if h != want {
		t.Errorf("Holds(%s, %q) = %v, want %v", res, key, h, want)
	}
}

func expectChange(t *testing.T, what string, c backend.Change, used int, changed bool) {
	t.Helper()
	if c.Used != used || c.Changed != changed {
		t.Errorf("%s: Used %d Changed %v, want Used %d Changed %v", what, c.Used, c.Changed, used, changed)
	}
	if len(c.Crossings) != 0 {
		t.Errorf("%s: crossings %v, want none", what, c.Crossings)
	}
}

func testReserveLimit(t *testing.T, s backend.Store, account string) {
	for _, res := range []backend.Resource{backend.Rooms, backend.Participants} {
		b := bounds(3)
		for i := 1; i <= 3; i++ {
			c := reserve(t, s, account, res, fmt.Sprintf("r%d", i), b, longTTL)
			expectChange(t, fmt.Sprintf("%s reserve %d of 3", res, i), c, i, true)
		}
		rc1, err := s.Reserve(ctxT(t), account, res, "r4", b, longTTL)
		refused(t, fmt.Sprintf("%s reserve past limit", res), rc1, err, 3, 3)
		expectUsed(t, s, account, res, 3, false)
		expectHolds(t, s, account, res, "r4", false)
		expectHolds(t, s, account, res, "r2", true)
	}
}

func testReserveDuplicate(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	reserve(t, s, account, backend.Rooms, "r1", b, longTTL)
	c := reserve(t, s, account, backend.Rooms, "r1", b, longTTL)
	expectChange(t, "duplicate reservation", c, 1, false)
	if _, err := s.Hold(ctxT(t), account, backend.Rooms, "RM1", b, longTTL); err != nil {
		t.Fatal(err)
	}
	c = reserve(t, s, account, backend.Rooms, "RM1", b, longTTL)
	expectChange(t, "reservation of a held key", c, 2, false)
	expectUsed(t, s, account, backend.Rooms, 2, false)
}

// testReserveAgainLapsesLater: a key reserved again (two clients sharing
// one key, such as a JoinToken's) lapses with the later of the two ttls,
// never the earlier.
func testReserveAgainLapsesLater(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	reserve(t, s, account, backend.Participants, "early-first", b, shortTTL)
	expectChange(t, "reserved again for longer", reserve(t, s, account, backend.Participants, "early-first", b, longTTL), 1, false)
	reserve(t, s, account, backend.Participants, "late-first", b, longTTL)
	expectChange(t, "reserved again for shorter", reserve(t, s, account, backend.Participants, "late-first", b, shortTTL), 2, false)
	sleep(t, shortTTL+lapseMargin)
	expectHolds(t, s, account, backend.Participants, "early-first", true)
	expectHolds(t, s, account, backend.Participants, "late-first", true)
	expectUsed(t, s, account, backend.Participants, 2, false)
}

func testReserveUnlimited(t *testing.T, s backend.Store, account string) {
	b := bounds(-1, 0.7)
	for i := 1; i <= 30; i++ {
		c := reserve(t, s, account, backend.Participants, fmt.Sprintf("p%d", i), b, longTTL)
		expectChange(t, fmt.Sprintf("unlimited reserve %d", i), c, i, true)
	}
}

func testReserveLapse(t *testing.T, s backend.Store, account string) {
	b := bounds(1)
	reserve(t, s, account, backend.Rooms, "a", b, shortTTL)
	rc2, err := s.Reserve(ctxT(t), account, backend.Rooms, "b", b, longTTL)
	refused(t, "reserve while the pending slot is live", rc2, err, 1, 1)
	sleep(t, shortTTL+lapseMargin)
	expectHolds(t, s, account, backend.Rooms, "a", false)
	expectUsed(t, s, account, backend.Rooms, 0, false)
	c := reserve(t, s, account, backend.Rooms, "b", b, longTTL)
	expectChange(t, "reserve after the lapse", c, 1, true)
}

func testReserveIndependent(t *testing.T, s backend.Store, account string) {
	b := bounds(1)
	reserve(t, s, account, backend.Rooms, "k", b, longTTL)
	c := reserve(t, s, account, backend.Participants, "k", b, longTTL)
	expectChange(t, "participant reserve with the room quota used up", c, 1, true)
	c = reserve(t, s, account+"-other", backend.Rooms, "k", b, longTTL)
	expectChange(t, "other account's room reserve", c, 1, true)
}

func testReserveConcurrent(t *testing.T, s backend.Store, account string) {
	b := bounds(10, 0.7, 0.9)
	var (
		mu        sync.Mutex
		ok, nope  int
		crossings []backend.Crossing
		wg        sync.WaitGroup
	)
	for i := range 100 {
		wg.Go(func() {
			c, err := s.Reserve(ctxT(t), account, backend.Rooms, fmt.Sprintf("r%d", i), b, longTTL)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("Reserve: %v", err)
			case c.Refused:
				nope++
				if c.Used != 10 || c.Limit != 10 {
					t.Errorf("refusal %+v, want Used 10 Limit 10", c)
				}
			default:
				ok++
				crossings = append(crossings, c.Crossings...)
			}
		})
	}
	wg.Wait()
	if ok != 10 || nope != 90 {
		t.Errorf("100 concurrent reservations at limit 10: %d succeeded, %d refused; want 10 and 90", ok, nope)
	}
	sortCrossings(crossings)
	want := []backend.Crossing{{Level: 0.7, Rising: true}, {Level: 0.9, Rising: true}}
	if !slices.Equal(crossings, want) {
		t.Errorf("crossings reported = %v, want each rising level exactly once: %v", crossings, want)
	}
	expectUsed(t, s, account, backend.Rooms, 10, false)
}

func testCommit(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(5)
	reserve(t, s, account, backend.Rooms, "res-1", b, shortTTL)
	c, err := s.Commit(ctx, account, backend.Rooms, "res-1", "RM1", b, longTTL)
	if err != nil {
		t.Fatal(err)
	}
	expectChange(t, "commit", c, 1, true)
	expectHolds(t, s, account, backend.Rooms, "res-1", false)
	expectHolds(t, s, account, backend.Rooms, "RM1", true)
	// Same key for reservation and holding.
	reserve(t, s, account, backend.Rooms, "RM2", b, shortTTL)
	if c, err = s.Commit(ctx, account, backend.Rooms, "RM2", "RM2", b, longTTL); err != nil {
		t.Fatal(err)
	}
	if c.Used != 2 {
		t.Errorf("commit under the same key: Used %d, want 2", c.Used)
	}
	// The holdings outlive the reservations' ttl.
	sleep(t, shortTTL+lapseMargin)
	expectUsed(t, s, account, backend.Rooms, 2, false)
	expectHolds(t, s, account, backend.Rooms, "RM1", true)
	expectHolds(t, s, account, backend.Rooms, "RM2", true)
	// A commit of a held key again changes nothing.
	if c, err = s.Commit(ctx, account, backend.Rooms, "res-1", "RM1", b, longTTL); err != nil {
		t.Fatal(err)
	}
	expectChange(t, "repeated commit", c, 2, false)
}

func testCommitUnknown(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(2)
	reserve(t, s, account, backend.Participants, "a", b, longTTL)
	reserve(t, s, account, backend.Participants, "b", b, longTTL)
	// The quota is used up; a room Twilio created anyway must be counted.
	c, err := s.Commit(ctx, account, backend.Participants, "never-reserved", "PA1", b, longTTL)
	if err != nil {
		t.Fatalf("Commit of an unknown reservation: %v", err)
	}
	expectChange(t, "commit of an unknown reservation", c, 3, true)
	expectHolds(t, s, account, backend.Participants, "PA1", true)
}

func testHoldPastLimit(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(2)
	for i := 1; i <= 3; i++ {
		c, err := s.Hold(ctx, account, backend.Rooms, fmt.Sprintf("RM%d", i), b, longTTL)
		if err != nil {
			t.Fatalf("Hold %d: %v", i, err)
		}
		expectChange(t, fmt.Sprintf("hold %d", i), c, i, true)
	}
	c, err := s.Hold(ctx, account, backend.Rooms, "RM2", b, longTTL)
	if err != nil {
		t.Fatal(err)
	}
	expectChange(t, "duplicate hold", c, 3, false)
	rc3, err := s.Reserve(ctx, account, backend.Rooms, "r", b, longTTL)
	refused(t, "reserve past held limit", rc3, err, 3, 2)
}

func testHoldLapse(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	if _, err := s.Hold(ctxT(t), account, backend.Participants, "PA1", b, shortTTL); err != nil {
		t.Fatal(err)
	}
	expectUsed(t, s, account, backend.Participants, 1, false)
	sleep(t, shortTTL+lapseMargin)
	expectUsed(t, s, account, backend.Participants, 0, false)
	expectHolds(t, s, account, backend.Participants, "PA1", false)
}

func testRelease(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(5)
	reserve(t, s, account, backend.Rooms, "pending", b, longTTL)
	if _, err := s.Hold(ctx, account, backend.Rooms, "RM1", b, longTTL); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		key     string
		used    int
		changed bool
	}{
		{"pending", 1, true},
		{"pending", 1, false},
		{"RM1", 0, true},
		{"RM1", 0, false},
		{"unknown", 0, false},
	}
	for i, st := range steps {
		c, err := s.Release(ctx, account, backend.Rooms, st.key, b)
		if err != nil {
			t.Fatalf("Release(%q): %v", st.key, err)
		}
		expectChange(t, fmt.Sprintf("step %d: release %q", i+1, st.key), c, st.used, st.changed)
	}
	expectHolds(t, s, account, backend.Rooms, "pending", false)
	expectHolds(t, s, account, backend.Rooms, "RM1", false)
}

// testCrossingSeq: operations that cross a level are numbered in the
// order the store decided them; others carry 0.
func testCrossingSeq(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(4, 0.5) // rises at 2, falls under 1
	var seqs []uint64
	step := func(c backend.Change, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if (len(c.Crossings) > 0) != (c.Seq != 0) {
			t.Fatalf("change %+v: Seq must be set exactly when a level is crossed", c)
		}
		if c.Seq != 0 {
			seqs = append(seqs, c.Seq)
		}
	}
	step(s.Reserve(ctx, account, backend.Rooms, "a", b, longTTL))
	step(s.Reserve(ctx, account, backend.Rooms, "b", b, longTTL)) // rising
	step(s.Release(ctx, account, backend.Rooms, "a", b))
	step(s.Release(ctx, account, backend.Rooms, "b", b)) // falling
	step(s.Reserve(ctx, account, backend.Rooms, "c", b, longTTL))
	step(s.Reserve(ctx, account, backend.Rooms, "d", b, longTTL)) // rising
	if len(seqs) != 3 || !(seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
		t.Fatalf("crossing numbers %v, want three increasing", seqs)
	}
}

// testSyncKeepsNewer: a Sync from a listing that began keep ago removes
// only the holdings added before that: another client's Room created while
// the listing ran survives.
func testSyncKeepsNewer(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(10)
	if _, err := s.Hold(ctx, account, backend.Rooms, "RMold", b, longTTL); err != nil {
		t.Fatal(err)
	}
	sleep(t, 2*lapseMargin)
	if _, err := s.Hold(ctx, account, backend.Rooms, "RMnew", b, longTTL); err != nil {
		t.Fatal(err)
	}
	// The listing began just after RMold was held: RMnew came after it
	// (with 290 ms to spare for a loaded machine), RMold before.
	_, added, removed, err := s.Sync(ctx, account, backend.Rooms, []string{"RMlisted"}, b, longTTL, 2*lapseMargin-10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if added != 1 || removed != 1 {
		t.Errorf("Sync drift: added %d removed %d, want 1 and 1", added, removed)
	}
	expectHolds(t, s, account, backend.Rooms, "RMold", false)
	expectHolds(t, s, account, backend.Rooms, "RMnew", true)
	expectHolds(t, s, account, backend.Rooms, "RMlisted", true)
}

func testSync(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(10)
	for _, k := range []string{"RMa", "RMb", "RMc"} {
		if _, err := s.Hold(ctx, account, backend.Rooms, k, b, longTTL); err != nil {
			t.Fatal(err)
		}
	}
	reserve(t, s, account, backend.Rooms, "pending", b, longTTL)
	c, added, removed, err := s.Sync(ctx, account, backend.Rooms, []string{"RMb", "RMc", "RMd", "RMe"}, b, longTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if added != 2 || removed != 1 {
		t.Errorf("Sync drift: added %d removed %d, want 2 and 1", added, removed)
	}
	expectChange(t, "sync", c, 5, true)
	expectHolds(t, s, account, backend.Rooms, "RMa", false)
	expectHolds(t, s, account, backend.Rooms, "RMd", true)
	expectHolds(t, s, account, backend.Rooms, "pending", true)

	c, added, removed, err = s.Sync(ctx, account, backend.Rooms, []string{"RMb", "RMc", "RMd", "RMe"}, b, longTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if added != 0 || removed != 0 {
		t.Errorf("repeated Sync drift: added %d removed %d, want 0 and 0", added, removed)
	}
	expectChange(t, "repeated sync", c, 5, false)

	c, added, removed, err = s.Sync(ctx, account, backend.Rooms, nil, b, longTTL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if added != 0 || removed != 4 {
		t.Errorf("Sync to nothing: added %d removed %d, want 0 and 4", added, removed)
	}
	expectChange(t, "sync to nothing", c, 1, true)
	expectHolds(t, s, account, backend.Rooms, "pending", true)
}

func markFull(t *testing.T, s backend.Store, account string, res backend.Resource, d time.Duration) {
	t.Helper()
	if err := s.MarkFull(ctxT(t), account, res, d); err != nil {
		t.Fatalf("MarkFull(%s, %v): %v", res, d, err)
	}
}

func testFullRelease(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(5)
	reserve(t, s, account, backend.Rooms, "a", b, longTTL)
	markFull(t, s, account, backend.Rooms, longTTL)
	expectUsed(t, s, account, backend.Rooms, 1, true)
	expectUsed(t, s, account, backend.Participants, 0, false)
	rc4, err := s.Reserve(ctx, account, backend.Rooms, "b", b, longTTL)
	refused(t, "reserve while marked full", rc4, err, 1, 5)
	reserve(t, s, account, backend.Participants, "b", b, longTTL)
	// Giving back a reservation frees no capacity at Twilio: the mark stays.
	if _, err := s.Release(ctx, account, backend.Rooms, "a", b); err != nil {
		t.Fatal(err)
	}
	expectUsed(t, s, account, backend.Rooms, 0, true)
	rc5, err := s.Reserve(ctx, account, backend.Rooms, "b", b, longTTL)
	refused(t, "reserve after a reservation was given back while full", rc5, err, 0, 5)
	// Giving back a held slot does clear it.
	if _, err := s.Hold(ctx, account, backend.Rooms, "RMa", b, longTTL); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Release(ctx, account, backend.Rooms, "RMa", b); err != nil {
		t.Fatal(err)
	}
	expectUsed(t, s, account, backend.Rooms, 0, false)
	c := reserve(t, s, account, backend.Rooms, "b", b, longTTL)
	expectChange(t, "reserve after release cleared the mark", c, 1, true)
}

func testFullSync(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	markFull(t, s, account, backend.Participants, longTTL)
	rc6, err := s.Reserve(ctxT(t), account, backend.Participants, "a", b, longTTL)
	refused(t, "reserve while marked full", rc6, err, 0, 5)
	if _, _, _, err := s.Sync(ctxT(t), account, backend.Participants, []string{"PA1"}, b, longTTL, 0); err != nil {
		t.Fatal(err)
	}
	expectUsed(t, s, account, backend.Participants, 1, false)
	reserve(t, s, account, backend.Participants, "a", b, longTTL)
}

func testFullExpires(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	markFull(t, s, account, backend.Rooms, shortTTL)
	rc7, err := s.Reserve(ctxT(t), account, backend.Rooms, "a", b, longTTL)
	refused(t, "reserve while marked full", rc7, err, 0, 5)
	sleep(t, shortTTL+lapseMargin)
	expectUsed(t, s, account, backend.Rooms, 0, false)
	reserve(t, s, account, backend.Rooms, "a", b, longTTL)
}

func sortCrossings(cs []backend.Crossing) {
	slices.SortFunc(cs, func(a, b backend.Crossing) int {
		if a.Level != b.Level {
			if a.Level < b.Level {
				return -1
			}
			return 1
		}
		if a.Rising == b.Rising {
			return 0
		}
		if a.Rising {
			return -1
		}
		return 1
	})
}

func rise(l float64) backend.Crossing { return backend.Crossing{Level: l, Rising: true} }
func fall(l float64) backend.Crossing { return backend.Crossing{Level: l, Rising: false} }

func testThresholds(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(10, 0.7, 0.9)
	type step struct {
		op   string // "+" reserve, "-" release, "h" hold
		key  string
		used int
		want []backend.Crossing
	}
	var steps []step
	for i := 1; i <= 9; i++ {
		st := step{"+", fmt.Sprintf("k%d", i), i, nil}
		switch i {
		case 7:
			st.want = []backend.Crossing{rise(0.7)}
		case 9:
			st.want = []backend.Crossing{rise(0.9)}
		}
		steps = append(steps, st)
	}
	steps = append(steps,
		step{"-", "k9", 8, nil},                            // 8 is not below 9-1
		step{"+", "k9", 9, nil},                            // 0.9 is still up: no second rising
		step{"-", "k9", 8, nil},                            //
		step{"-", "k8", 7, []backend.Crossing{fall(0.9)}},  // 7 < 9-1
		step{"-", "k7", 6, nil},                            // 6 is not below 7-1
		step{"h", "RM7", 7, nil},                           // 0.7 is still up
		step{"-", "RM7", 6, nil},                           //
		step{"-", "k6", 5, []backend.Crossing{fall(0.7)}},  // 5 < 7-1
		step{"+", "k6", 6, nil},                            //
		step{"h", "RM8", 7, []backend.Crossing{rise(0.7)}}, // a hold crosses too (RM7 ended)
		step{"+", "k8", 8, nil},
		step{"+", "k9", 9, []backend.Crossing{rise(0.9)}},
	)
	for i, st := range steps {
		var (
			c   backend.Change
			err error
		)
		switch st.op {
		case "+":
			c, err = s.Reserve(ctx, account, backend.Rooms, st.key, b, longTTL)
		case "-":
			c, err = s.Release(ctx, account, backend.Rooms, st.key, b)
		case "h":
			c, err = s.Hold(ctx, account, backend.Rooms, st.key, b, longTTL)
		}
		if err != nil {
			t.Fatalf("step %d (%s %s): %v", i+1, st.op, st.key, err)
		}
		if c.Used != st.used || !c.Changed {
			t.Errorf("step %d (%s %s): Used %d Changed %v, want Used %d Changed true", i+1, st.op, st.key, c.Used, c.Changed, st.used)
		}
		if !slices.Equal(c.Crossings, st.want) {
			t.Errorf("step %d (%s %s -> %d): crossings %v, want %v", i+1, st.op, st.key, st.used, c.Crossings, st.want)
		}
	}
}

func testThresholdJump(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(10, 0.7, 0.9)
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = fmt.Sprintf("PA%d", i)
	}
	for _, tc := range []struct {
		keys []string
		want []backend.Crossing
	}{
		{keys, []backend.Crossing{rise(0.7), rise(0.9)}},
		{keys, nil},
		{keys[:3], []backend.Crossing{fall(0.7), fall(0.9)}},
	} {
		c, _, _, err := s.Sync(ctx, account, backend.Participants, tc.keys, b, longTTL, 0)
		if err != nil {
			t.Fatal(err)
		}
		sortCrossings(c.Crossings)
		if !slices.Equal(c.Crossings, tc.want) {
			t.Errorf("Sync to %d holdings: crossings %v, want %v", len(tc.keys), c.Crossings, tc.want)
		}
	}
}

func testThresholdUnlimited(t *testing.T, s backend.Store, account string) {
	b := bounds(-1, 0.5)
	for i := range 5 {
		c := reserve(t, s, account, backend.Rooms, fmt.Sprintf("k%d", i), b, longTTL)
		if len(c.Crossings) != 0 {
			t.Fatalf("unlimited quota reported crossings %v", c.Crossings)
		}
	}
}

func testSharedBucket(t *testing.T, a, b backend.Store, account string) {
	r := backend.Rate{PerSecond: 1, Burst: 1}
	if _, ok := take(t, a, account, backend.Write, r, 0); !ok {
		t.Fatal("first token refused")
	}
	w, ok := take(t, b, account, backend.Write, r, 0)
	if ok {
		t.Fatal("the second handle got a token the first one had taken")
	}
	within(t, "second handle's token", w, time.Second, tol, 0)
}

func testSharedFactor(t *testing.T, a, b backend.Store, account string) {
	adjust(t, a, account, backend.Read, 1, 0.5, time.Minute, 0.5)
	if f, err := b.RateFactor(ctxT(t), account, backend.Read); err != nil || f != 0.5 {
		t.Fatalf("factor seen by the other handle = %v, %v; want 0.5", f, err)
	}
	r := backend.Rate{PerSecond: 2, Burst: 1}
	take(t, b, account, backend.Read, r, time.Minute)
	w, _ := take(t, b, account, backend.Read, r, time.Minute)
	within(t, "second token at 2/s slowed to 0.5 by the other handle", w, time.Second, tol, 0)
}

func testSharedLedger(t *testing.T, a, b backend.Store, account string) {
	ctx := ctxT(t)
	bd := bounds(2)
	reserve(t, a, account, backend.Rooms, "r1", bd, longTTL)
	reserve(t, b, account, backend.Rooms, "r2", bd, longTTL)
	rc8, err := a.Reserve(ctx, account, backend.Rooms, "r3", bd, longTTL)
	refused(t, "reserve past the shared limit", rc8, err, 2, 2)
	if _, err := b.Commit(ctx, account, backend.Rooms, "r1", "RM1", bd, longTTL); err != nil {
		t.Fatal(err)
	}
	expectHolds(t, a, account, backend.Rooms, "RM1", true)
	expectHolds(t, a, account, backend.Rooms, "r1", false)
	markFull(t, b, account, backend.Participants, longTTL)
	expectUsed(t, a, account, backend.Participants, 0, true)
	if _, err := a.Release(ctx, account, backend.Rooms, "RM1", bd); err != nil {
		t.Fatal(err)
	}
	expectUsed(t, b, account, backend.Rooms, 1, false)
}

func testSharedCrossings(t *testing.T, a, b backend.Store, account string) {
	bd := bounds(20, 0.5)
	var (
		mu        sync.Mutex
		crossings []backend.Crossing
		wg        sync.WaitGroup
	)
	for i := range 40 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			c, err := s.Reserve(ctxT(t), account, backend.Rooms, fmt.Sprintf("r%d", i), bd, longTTL)
			if err != nil {
				t.Errorf("Reserve: %v", err)
			}
			mu.Lock()
			crossings = append(crossings, c.Crossings...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if want := []backend.Crossing{rise(0.5)}; !slices.Equal(crossings, want) {
		t.Errorf("crossings over two handles = %v, want %v exactly once", crossings, want)
	}
	expectUsed(t, a, account, backend.Rooms, 20, false)
}

// hold holds key, failing the test on an error.
func hold(t *testing.T, s backend.Store, account string, res backend.Resource, key string, b *backend.Bounds) backend.Change {
	t.Helper()
	c, err := s.Hold(ctxT(t), account, res, key, b, longTTL)
	if err != nil {
		t.Fatalf("Hold(%q): %v", key, err)
	}
	return c
}

// release releases key, failing the test on an error.
func release(t *testing.T, s backend.Store, account string, res backend.Resource, key string, b *backend.Bounds) backend.Change {
	t.Helper()
	c, err := s.Release(ctxT(t), account, res, key, b)
	if err != nil {
		t.Fatalf("Release(%q): %v", key, err)
	}
	return c
}

// testEndedHold: a holding given back is remembered ended, and a later Hold
// of it (a late room-created reaching a client that did not see the end)
// holds nothing.
func testEndedHold(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	for _, res := range []backend.Resource{backend.Rooms, backend.Participants} {
		hold(t, s, account, res, "SID1", b)
		hold(t, s, account, res, "SID2", b)
		expectChange(t, res.String()+": release", release(t, s, account, res, "SID1", b), 1, true)
		expectChange(t, res.String()+": hold after the end", hold(t, s, account, res, "SID1", b), 1, false)
		expectHolds(t, s, account, res, "SID1", false)
		expectUsed(t, s, account, res, 1, false)
		// Releasing it again changes nothing, and it stays ended.
		expectChange(t, res.String()+": second release", release(t, s, account, res, "SID1", b), 1, false)
		expectChange(t, res.String()+": hold after the second release", hold(t, s, account, res, "SID1", b), 1, false)
	}
}

// testEndedCommit: a Commit onto an ended key drops the reservation (the
// create's Room ended already) and holds nothing.
func testEndedCommit(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(5)
	hold(t, s, account, backend.Participants, "PA1", b)
	release(t, s, account, backend.Participants, "PA1", b)
	reserve(t, s, account, backend.Participants, "token", b, longTTL)
	expectUsed(t, s, account, backend.Participants, 1, false)
	c, err := s.Commit(ctx, account, backend.Participants, "token", "PA1", b, longTTL)
	if err != nil {
		t.Fatal(err)
	}
	expectChange(t, "commit onto an ended key", c, 0, true)
	expectHolds(t, s, account, backend.Participants, "token", false)
	expectHolds(t, s, account, backend.Participants, "PA1", false)
	// With no reservation left, the same Commit changes nothing.
	if c, err = s.Commit(ctx, account, backend.Participants, "token", "PA1", b, longTTL); err != nil {
		t.Fatal(err)
	}
	expectChange(t, "repeated commit onto an ended key", c, 0, false)
}

// testEndedNotPending: a reservation given back never took capacity at
// Twilio and is no end: its key can be held afterwards.
func testEndedNotPending(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	reserve(t, s, account, backend.Rooms, "RM1", b, longTTL)
	release(t, s, account, backend.Rooms, "RM1", b)
	expectChange(t, "hold of a key given back pending", hold(t, s, account, backend.Rooms, "RM1", b), 1, true)
}

// testEndedBeforeStart: an end heard before the start (a key released that
// was never held) is remembered too: the start, heard later, holds nothing.
// The empty key is never marked.
func testEndedBeforeStart(t *testing.T, s backend.Store, account string) {
	b := bounds(5)
	expectChange(t, "release of a key never held", release(t, s, account, backend.Participants, "PA1", b), 0, false)
	expectChange(t, "hold after the end", hold(t, s, account, backend.Participants, "PA1", b), 0, false)
	release(t, s, account, backend.Participants, "", b)
	expectChange(t, "hold of the empty key", hold(t, s, account, backend.Participants, "", b), 1, true)
}

// testEndedSync: a Sync marks the holdings it removes ended, and holds no
// listed key that ended (the listing began before the end), whatever keep.
func testEndedSync(t *testing.T, s backend.Store, account string) {
	ctx := ctxT(t)
	b := bounds(10)
	hold(t, s, account, backend.Rooms, "RMgone", b)
	hold(t, s, account, backend.Rooms, "RMlate", b)
	release(t, s, account, backend.Rooms, "RMlate", b)
	for _, keep := range []time.Duration{0, time.Hour} {
		_, added, _, err := s.Sync(ctx, account, backend.Rooms, []string{"RMlate", "RMnew" + keep.String()}, b, longTTL, keep)
		if err != nil {
			t.Fatal(err)
		}
		if added != 1 {
			t.Errorf("Sync (keep %v) listing an ended key and a new one: added %d, want 1", keep, added)
		}
		expectHolds(t, s, account, backend.Rooms, "RMlate", false)
		expectHolds(t, s, account, backend.Rooms, "RMnew"+keep.String(), true)
	}
	expectHolds(t, s, account, backend.Rooms, "RMgone", false)
	expectChange(t, "hold of a key removed by Sync", hold(t, s, account, backend.Rooms, "RMgone", b), 2, false)
}

// testSharedEnded: an end heard through one handle stops a late Hold or
// Commit through the other.
func testSharedEnded(t *testing.T, a, b backend.Store, account string) {
	ctx := ctxT(t)
	bd := bounds(5)
	hold(t, a, account, backend.Rooms, "RM1", bd)
	release(t, a, account, backend.Rooms, "RM1", bd)
	expectChange(t, "late hold through the other handle", hold(t, b, account, backend.Rooms, "RM1", bd), 0, false)
	reserve(t, b, account, backend.Participants, "token", bd, longTTL)
	hold(t, b, account, backend.Participants, "PA1", bd)
	release(t, b, account, backend.Participants, "PA1", bd)
	c, err := a.Commit(ctx, account, backend.Participants, "token", "PA1", bd, longTTL)
	if err != nil {
		t.Fatal(err)
	}
	expectChange(t, "late commit through the other handle", c, 0, true)
	expectUsed(t, b, account, backend.Rooms, 0, false)
	expectUsed(t, b, account, backend.Participants, 0, false)
}
