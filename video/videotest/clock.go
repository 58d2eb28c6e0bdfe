package videotest

import (
	"sort"
	"sync"
	"time"
)

// Clock is the time seam of the [Server]. Room timeouts, participant
// durations, token expiry, rate-limit buckets and every timestamp the server
// writes read this clock. A nil Clock in [Options] means real time.
//
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (real clock) or synchronously
	// inside Advance (FakeClock) once d has elapsed. Stop cancels the call.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call returned by [Clock.AfterFunc].
type Timer interface {
	// Stop prevents the call from firing. It reports whether it did so.
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// FakeClock is a manual [Clock] for deterministic tests: time moves only when
// Advance or Set is called, and every timer due by then fires inside that call,
// in deadline order, on the caller's goroutine. It is safe for concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers map[uint64]*fakeTimer
}

type fakeTimer struct {
	c    *FakeClock
	id   uint64
	when time.Time
	f    func()
}

// NewFakeClock returns a FakeClock reading t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t, timers: make(map[uint64]*fakeTimer)}
}

// Now returns the fake current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the clock has been advanced by d.
// A d <= 0 fires on the next Advance (even Advance(0)).
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, id: c.seq, when: c.now.Add(d), f: f}
	c.timers[t.id] = t
	return t
}

// Stop cancels the timer; it reports whether the timer was still pending.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t.id]
	delete(t.c.timers, t.id)
	return ok
}

// Advance moves the clock forward by d and fires, in deadline order, every
// timer that is due, including timers scheduled by the fired functions
// themselves if they fall within the new time.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.Set(target)
}

// Set moves the clock to t (never backwards) and fires the timers due by t.
func (c *FakeClock) Set(t time.Time) {
	for {
		c.mu.Lock()
		var due []*fakeTimer
		for _, tm := range c.timers {
			if !tm.when.After(t) {
				due = append(due, tm)
			}
		}
		if len(due) == 0 {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		sort.Slice(due, func(i, j int) bool {
			if due[i].when.Equal(due[j].when) {
				return due[i].id < due[j].id
			}
			return due[i].when.Before(due[j].when)
		})
		first := due[0]
		delete(c.timers, first.id)
		if first.when.After(c.now) {
			c.now = first.when
		}
		c.mu.Unlock()
		first.f()
	}
}

// Pending reports how many timers are scheduled and not yet fired or stopped.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
