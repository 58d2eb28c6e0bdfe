package quota

import (
	"errors"
	"time"
)

// Clock is the option [WithClock] returns: a [LedgerOption], a
// [LimiterOption] and a [MemoryOption] at once.
type Clock struct{ now func() time.Time }

// WithClock sets the clock (default time.Now) that a [Ledger] stamps events
// with, that a [Limiter] times its adaptive recovery by, and that a
// [MemoryStore] runs its buckets and leases on. Tests inject a fake one. A
// nil clock makes [NewLedger] fail; [NewLimiter] and [NewMemoryStore]
// ignore it.
func WithClock(now func() time.Time) Clock { return Clock{now: now} }

func (c Clock) applyLedger(l *Ledger) error {
	if c.now == nil {
		return errors.New("quota: WithClock: nil clock")
	}
	l.now = c.now
	return nil
}

func (c Clock) applyLimiter(l *Limiter) {
	if c.now != nil {
		l.now = c.now
	}
}

func (c Clock) applyMemory(s *MemoryStore) {
	if c.now != nil {
		s.now = c.now
	}
}
