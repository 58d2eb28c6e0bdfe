package storetest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// RunInspector checks a store's [backend.Inspector] methods, which the stores
// newStore returns must implement: the tokens a bucket holds (fresh, after
// takes, owed, unlimited, refilling under the adaptive factor, untouched by
// reading) and the pending reservations (through commits, releases,
// holdings and lapses, per account and resource). Subtests run in parallel,
// each on its own account; the suite takes about half a second.
func RunInspector(t *testing.T, newStore func(t *testing.T) backend.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s backend.Store, in backend.Inspector, account string)
	}{
		{"Tokens/Taken", testInspectTokens},
		{"Tokens/Unlimited", testInspectUnlimited},
		{"Tokens/Refill", testInspectRefill},
		{"Pending", testInspectPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			in, ok := s.(backend.Inspector)
			if !ok {
				t.Fatalf("%T does not implement backend.Inspector", s)
			}
			tc.fn(t, s, in, Account(t))
		})
	}
}

func tokens(t *testing.T, in backend.Inspector, account string, class backend.Class, r backend.Rate) float64 {
	t.Helper()
	n, err := in.Tokens(ctxT(t), account, class, r)
	if err != nil {
		t.Fatalf("Tokens(%s, %v): %v", class, r, err)
	}
	return n
}

// near fails unless got is in [want-below, want+above].
func near(t *testing.T, what string, got, want, below, above float64) {
	t.Helper()
	if !(got >= want-below && got <= want+above) {
		t.Errorf("%s: %v tokens, want %v (-%v/+%v)", what, got, want, below, above)
	}
}

func testInspectTokens(t *testing.T, s backend.Store, in backend.Inspector, account string) {
	// At one token per 100 s the refill during the test is negligible (0.01/s).
	r := backend.Rate{PerSecond: 0.01, Burst: 5}
	near(t, "fresh bucket", tokens(t, in, account, backend.Write, r), 5, 0, 0)
	take(t, s, account, backend.Write, r, 0)
	take(t, s, account, backend.Write, r, 0)
	for i := range 3 { // reading takes nothing
		near(t, fmt.Sprintf("after 2 of 5 taken (read %d)", i+1), tokens(t, in, account, backend.Write, r), 3, 0, 0.05)
	}
	near(t, "read bucket", tokens(t, in, account, backend.Read, r), 5, 0, 0)
	near(t, "other account", tokens(t, in, account+"-other", backend.Write, r), 5, 0, 0)
	for range 3 {
		if _, ok := take(t, s, account, backend.Write, r, 0); !ok {
			t.Fatal("token 3..5 of burst 5 refused")
		}
	}
	if _, ok := take(t, s, account, backend.Write, r, 0); ok {
		t.Fatal("6th token at burst 5 granted at once")
	}
	near(t, "emptied bucket", tokens(t, in, account, backend.Write, r), 0, 0, 0.05)
	// A token granted with a wait is owed: the bucket goes negative.
	if _, ok := take(t, s, account, backend.Write, r, time.Hour); !ok {
		t.Fatal("token with maxWait 1h refused")
	}
	near(t, "one token owed", tokens(t, in, account, backend.Write, r), -1, 0, 0.05)
}

func testInspectUnlimited(t *testing.T, s backend.Store, in backend.Inspector, account string) {
	r := backend.Rate{PerSecond: -1, Burst: 1}
	take(t, s, account, backend.Read, r, 0)
	if n := tokens(t, in, account, backend.Read, r); !math.IsInf(n, 1) {
		t.Errorf("unlimited bucket: %v tokens, want +Inf", n)
	}
}

func testInspectRefill(t *testing.T, s backend.Store, in backend.Inspector, account string) {
	// 10/s slowed by 0.5 refills 5 tokens a second, not 10.
	adjust(t, s, account, backend.Write, 1, 0.5, time.Minute, 0.5)
	r := backend.Rate{PerSecond: 10, Burst: 5}
	start := time.Now()
	for i := range 5 {
		if _, ok := take(t, s, account, backend.Write, r, 0); !ok {
			t.Fatalf("token %d of burst 5 refused", i+1)
		}
	}
	sleep(t, 200*time.Millisecond)
	n := tokens(t, in, account, backend.Write, r)
	elapsed := time.Since(start).Seconds()
	// Between the last take and the read: at least 200 ms, at most elapsed.
	// Unslowed, 10/s would have refilled at least 2.
	near(t, fmt.Sprintf("refilled at 5/s for 200 ms (%.3fs in all)", elapsed), n, 1, 0.05, 5*elapsed-1+0.05)
}

func pending(t *testing.T, in backend.Inspector, account string, res backend.Resource) int {
	t.Helper()
	n, err := in.Pending(ctxT(t), account, res)
	if err != nil {
		t.Fatalf("Pending(%s): %v", res, err)
	}
	return n
}

func testInspectPending(t *testing.T, s backend.Store, in backend.Inspector, account string) {
	ctx := ctxT(t)
	b := bounds(10)
	expect := func(what string, wantPending, wantUsed int) {
		t.Helper()
		if n := pending(t, in, account, backend.Participants); n != wantPending {
			t.Errorf("%s: Pending = %d, want %d", what, n, wantPending)
		}
		expectUsed(t, s, account, backend.Participants, wantUsed, false)
	}
	expect("fresh ledger", 0, 0)
	for _, k := range []string{"a", "b", "c"} {
		reserve(t, s, account, backend.Participants, k, b, longTTL)
	}
	reserve(t, s, account, backend.Participants, "d", b, shortTTL)
	reserve(t, s, account, backend.Participants, "a", b, longTTL) // a duplicate
	expect("4 reserved", 4, 4)
	if _, err := s.Commit(ctx, account, backend.Participants, "a", "PA-a", b, longTTL); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	expect("1 committed", 3, 4)
	if _, err := s.Release(ctx, account, backend.Participants, "b", b); err != nil {
		t.Fatalf("Release: %v", err)
	}
	expect("1 released", 2, 3)
	if _, err := s.Hold(ctx, account, backend.Participants, "PA-e", b, longTTL); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	expect("1 held", 2, 4)
	if n := pending(t, in, account, backend.Rooms); n != 0 {
		t.Errorf("Rooms: Pending = %d, want 0; resources must have their own ledgers", n)
	}
	if n := pending(t, in, account+"-other", backend.Participants); n != 0 {
		t.Errorf("other account: Pending = %d, want 0", n)
	}
	sleep(t, shortTTL+lapseMargin)
	expect("after d lapsed", 1, 3)
}
