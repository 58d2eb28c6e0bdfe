package quota_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
)

// recordLog keeps the messages and attributes of the lines logged.
type recordLog struct {
	mu    sync.Mutex
	lines []string
}

func (r *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (r *recordLog) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recordLog) WithGroup(string) slog.Handler            { return r }
func (r *recordLog) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

func (r *recordLog) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

// TestLedgerLimitsOfTheLedgerStartedLast: Ledgers of one account on one
// store, configured with different Room limits, enforce those of the
// Ledger started last, from its first Reserve: a deploy raises the limit,
// a later one lowers it, and the limits of Ledgers that stopped offering
// lapse after LimitsTTL. A Ledger logs once per set of limits in force
// that differs from its own.
func TestLedgerLimitsOfTheLedgerStartedLast(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := clockFunc(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	st := newMem(t, memstore.WithClock(clock))
	ctx := context.Background()
	start := func(rooms int, log *recordLog) *quota.Ledger {
		advance(time.Second) // started one after the other
		l, err := quota.NewLedger(st, acct, quota.Limits{ConcurrentRooms: rooms},
			quota.WithClock(clock), quota.WithLogger(slog.New(log)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		return l
	}
	n := 0
	reserve := func(l *quota.Ledger) error {
		n++
		return l.Reserve(ctx, quota.Rooms, fmt.Sprintf("r%d", n), time.Hour)
	}
	refusedAt := func(l *quota.Ledger, what string, want int) {
		t.Helper()
		var ee *quota.ExceededError
		if err := reserve(l); !errors.As(err, &ee) || ee.Limit != want {
			t.Fatalf("%s: Reserve %v, want a refusal at the limit %d", what, err, want)
		}
		if got := l.Limit(quota.Rooms); got != want {
			t.Fatalf("%s: Limit %d, want %d", what, got, want)
		}
	}

	var logA, logB, logC recordLog
	a := start(5, &logA)
	for range 5 {
		if err := reserve(a); err != nil {
			t.Fatal(err)
		}
	}
	refusedAt(a, "A alone", 5)
	b := start(10, &logB) // a deploy raising the quota
	for range 5 {
		if err := reserve(b); err != nil {
			t.Fatalf("B after A's 5: %v", err)
		}
	}
	refusedAt(b, "B at 10", 10)
	refusedAt(a, "A after B started", 10)
	c := start(8, &logC) // a later deploy lowering it
	refusedAt(c, "C", 8)
	refusedAt(a, "A after C started", 8)
	refusedAt(b, "B after C started", 8)
	if got := []int{logA.count(), logB.count(), logC.count()}; fmt.Sprint(got) != "[2 1 0]" {
		t.Errorf("lines saying the limits differ: A %d, B %d, C %d; want 2 (10, then 8), 1 (8), 0", got[0], got[1], got[2])
	}
	// C stops offering (its process stopped): after LimitsTTL its limits
	// lapse, and B's (started after A) are in force again.
	advance(quota.LimitsTTL + time.Second)
	refusedAt(a, "A once C's offer lapsed", 5) // A offers first: none in force
	refusedAt(b, "B", 10)
	refusedAt(a, "A after B offered again", 10)
}
