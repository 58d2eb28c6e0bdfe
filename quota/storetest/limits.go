package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// RunLimits checks a [backend.LimitsStore] through two handles on one
// shared store (newPair may return the same store twice): the offer with
// the latest Since is in force for its account, whichever handle made it and
// in whatever order the offers arrive, an earlier or equal Since leaves it in
// force, an offer not renewed within its ttl lapses, accounts are independent, and a threshold level's state is kept per
// limit, so that a level up at one limit rises afresh at another.
func RunLimits(t *testing.T, newPair func(t *testing.T) (a, b backend.Store)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a, b backend.LimitsStore, account string)
	}{
		{"LatestSinceWins", testLimitsLatestWins},
		{"Concurrent", testLimitsConcurrent},
		{"Lapse", testLimitsLapse},
		{"AccountsIndependent", testLimitsIndependent},
		{"LevelsPerLimit", testLimitsLevels},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := newPair(t)
			a, ok := sa.(backend.LimitsStore)
			b, ok2 := sb.(backend.LimitsStore)
			if !ok || !ok2 {
				t.Fatalf("%T does not implement backend.LimitsStore", sa)
			}
			tc.fn(t, a, b, Account(t))
		})
	}
}

// limitsAt returns limits of rooms and participants offered at t0 plus d.
func limitsAt(rooms, participants int, t0 time.Time, d time.Duration) backend.AccountLimits {
	return backend.AccountLimits{Rooms: rooms, Participants: participants, Since: t0.Add(d)}
}

func offer(t *testing.T, s backend.LimitsStore, account string, lim backend.AccountLimits, want backend.AccountLimits, what string) {
	t.Helper()
	got, err := s.OfferLimits(ctxT(t), account, lim, longTTL)
	if err != nil {
		t.Fatalf("%s: OfferLimits: %v", what, err)
	}
	if got.Rooms != want.Rooms || got.Participants != want.Participants || !got.Since.Equal(want.Since) {
		t.Errorf("%s: in force %d rooms, %d participants since %v; want %d, %d since %v",
			what, got.Rooms, got.Participants, got.Since, want.Rooms, want.Participants, want.Since)
	}
}

func testLimitsLatestWins(t *testing.T, a, b backend.LimitsStore, account string) {
	t0 := time.Now().Truncate(time.Microsecond)
	first := limitsAt(5, 50, t0, 0)
	offer(t, a, account, first, first, "first offer")
	offer(t, b, account, limitsAt(6, 60, t0, -time.Second), first, "an offer started earlier")
	offer(t, b, account, limitsAt(7, 70, t0, 0), first, "an offer started at the same time")
	raise := limitsAt(10, -1, t0, time.Second) // unlimited Participants
	offer(t, b, account, raise, raise, "an offer started later (a deploy raising the quota)")
	offer(t, a, account, first, raise, "the first offer again, from the other handle")
	lower := limitsAt(3, 30, t0, 2*time.Second)
	offer(t, a, account, lower, lower, "an offer started later still (a deploy lowering the quota)")
	offer(t, b, account, raise, lower, "the raise again")
}

func testLimitsConcurrent(t *testing.T, a, b backend.LimitsStore, account string) {
	t0 := time.Now().Truncate(time.Microsecond)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			// Offers of later starts come first, in the main.
			if _, err := s.OfferLimits(ctxT(t), account, limitsAt(i+1, i+1, t0, time.Duration(n-i)*time.Millisecond), longTTL); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	latest := limitsAt(1, 1, t0, n*time.Millisecond) // i = 0
	offer(t, a, account, limitsAt(99, 99, t0, 0), latest, "after concurrent offers")
}

func testLimitsIndependent(t *testing.T, a, b backend.LimitsStore, account string) {
	t0 := time.Now().Truncate(time.Microsecond)
	other := account + "-other"
	one := limitsAt(5, 5, t0, time.Second)
	two := limitsAt(8, 8, t0, 0)
	offer(t, a, account, one, one, "account one")
	offer(t, b, other, two, two, "account two, started earlier")
}

func testLimitsLevels(t *testing.T, a, b backend.LimitsStore, account string) {
	sa, sb := a.(backend.Store), b.(backend.Store)
	// At a limit of 5 the 0.7 level rises at 4.
	five := bounds(5, 0.7)
	for i := 1; i <= 4; i++ {
		c, err := sa.Hold(ctxT(t), account, backend.Rooms, fmt.Sprintf("RM%d", i), five, longTTL)
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 4; (len(c.Crossings) == 1 && c.Crossings[0].Rising) != want {
			t.Fatalf("hold %d at a limit of 5: crossings %v, want a rising 0.7: %v", i, c.Crossings, want)
		}
	}
	// The limit in force becomes 10: the 0.7 level rises at 7 for it,
	// whatever its state at 5.
	ten := bounds(10, 0.7)
	for i := 5; i <= 8; i++ {
		c, err := sb.Hold(ctxT(t), account, backend.Rooms, fmt.Sprintf("RM%d", i), ten, longTTL)
		if err != nil {
			t.Fatal(err)
		}
		want := i == 7
		if got := len(c.Crossings) == 1 && c.Crossings[0].Rising && c.Crossings[0].Level == 0.7; got != want || (!want && len(c.Crossings) > 0) {
			t.Fatalf("hold %d at a limit of 10: crossings %v, want a rising 0.7: %v", i, c.Crossings, want)
		}
	}
	// And falls under 7 less the hysteresis.
	for i := 8; i >= 5; i-- {
		c, err := sa.Release(ctxT(t), account, backend.Rooms, fmt.Sprintf("RM%d", i), ten)
		if err != nil {
			t.Fatal(err)
		}
		want := i == 6 // usage 5 < 7-1
		if got := len(c.Crossings) == 1 && !c.Crossings[0].Rising; got != want {
			t.Fatalf("release to %d at a limit of 10: crossings %v, want a falling 0.7: %v", i-1, c.Crossings, want)
		}
	}
}

func testLimitsLapse(t *testing.T, a, b backend.LimitsStore, account string) {
	t0 := time.Now().Truncate(time.Microsecond)
	late := limitsAt(10, 10, t0, time.Second)
	if got, err := a.OfferLimits(ctxT(t), account, late, shortTTL); err != nil || !got.Since.Equal(late.Since) {
		t.Fatalf("first offer: %v, %v", got, err)
	}
	early := limitsAt(5, 5, t0, 0)
	offer(t, b, account, early, late, "an earlier start while the later offer is fresh")
	sleep(t, shortTTL+lapseMargin)
	offer(t, b, account, early, early, "an earlier start once the later offer lapsed")
}
