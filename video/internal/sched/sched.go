// Package sched orders the callers that wait for a rate token of one request
// class: by priority level, with a guaranteed share for each level, and
// inside a level by weighted fair queuing between tenants.
//
// # How it works
//
// A [Scheduler] hands one baton around: the caller that holds it (between
// [Scheduler.Enter] and [Scheduler.Leave]) is the only one of the class that
// takes a token from the rate limiter. A caller that finds the baton free and
// nobody queued takes it at once, without allocating; the others queue, and
// Leave hands the baton to the next one chosen:
//
//   - Levels: the highest level with callers waiting, except that a lower
//     level that has been waiting is served as soon as its guaranteed share
//     ([Config].Shares) of the grants made while it waited is due. A level
//     with nobody waiting earns no share: what it would have had goes to the
//     levels that are busy.
//   - Tenants, inside a level: start-time fair queuing. Each waiting call gets
//     a start tag max(level's virtual time, tenant's last finish tag) and its
//     tenant's finish tag moves 1/weight past it; the smallest start tag is
//     served. Busy tenants share the grants in proportion to their weights,
//     none starves, and an idle tenant's share goes to the busy ones.
//
// A holder that the store makes wait to ask again (a store shared with
// other processes puts their callers of a higher level first) calls
// [Scheduler.Yield] meanwhile: a caller of a higher level of its own that
// waits or arrives takes the baton, and the holder has it back next.
//
// Because only the baton holder reserves a token, a token is never promised
// to a caller further ahead than the rate's interval (the limiter's horizon
// applies to the holder alone), so a critical caller arriving during a flood
// waits for at most the token in progress.
//
// Memory is bounded by the callers waiting: a tenant is kept only while it
// has calls queued, and forgotten (its finish tag dropped) when its queue
// empties. A tenant that empties its queue thus gains at most one call's
// worth of virtual time.
//
// The Scheduler does no I/O and reads no clock except through
// [Config].Now; tests drive it with testing/synctest.
package sched

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Priority is a level; smaller is served first.
type Priority uint8

// The levels.
const (
	Critical Priority = iota
	Normal
	Background
	// Levels is the number of levels.
	Levels = 3
)

// String returns "critical", "normal" or "background".
func (p Priority) String() string {
	switch p {
	case Critical:
		return "critical"
	case Normal:
		return "normal"
	case Background:
		return "background"
	}
	return "unknown"
}

// DefaultShares are the guaranteed shares of the levels: a normal caller gets
// at least 10% of the grants made while it waits behind critical ones, a
// background caller at least 5% while it waits behind either.
var DefaultShares = [Levels]float64{Critical: 0, Normal: 0.10, Background: 0.05}

// Strict, as Shares[Critical], makes every share 0: strict priority.
const Strict = -1

// Config configures a Scheduler.
type Config struct {
	// Shares are the guaranteed shares of grants of each level, each in
	// [0, 1); their sum must stay under 1. The zero value takes
	// DefaultShares; Shares[Critical] = Strict makes them all 0.
	Shares [Levels]float64
	// Now reads the clock for wait times; nil means time.Now.
	Now func() time.Time
}

// Stats are a level's or a tenant's counters since the Scheduler was made.
type Stats struct {
	Granted  int64         // batons handed over, at once or after waiting (a tenant's: after waiting)
	Queued   int64         // of Granted, those that waited in the queue
	Canceled int64         // callers whose ctx ended while queued
	Refused  int64         // callers refused after their turn (see [Scheduler.Refused])
	Waited   time.Duration // total time Queued callers waited
	Waiting  int           // callers queued now
}

// TenantStats are one tenant's counters; see [Scheduler.TenantStats].
type TenantStats struct {
	Tenant string
	Stats
}

// OtherTenants is the name under which [Scheduler.TenantStats] sums the
// tenants it does not name.
const OtherTenants = "other"

// MaxTenantStats bounds the tenants counted by name: past it, new tenants
// are counted together under OtherTenants.
const MaxTenantStats = 256

// Scheduler is the baton of one request class. It is safe for simultaneous
// use. Its zero value is not usable; create one with [New].
type Scheduler struct {
	shares [Levels]float64
	now    func() time.Time

	mu         sync.Mutex
	busy       bool  // the baton is held
	immediate  int64 // batons taken through TryEnter
	waiting    int   // callers queued, all levels
	levels     [Levels]level
	watch      chan struct{} // signalled when a caller above watchLevel queues; nil when none yields
	watchLevel Priority
	shareTurn  bool              // the holder was handed the baton for its level's share while a higher level waited
	shareFrom  Priority          // that higher level, when shareTurn
	tstats     map[string]*Stats // tenants counted by name, at most MaxTenantStats
	other      Stats             // the tenants past MaxTenantStats
	free       *waiter           // pooled waiters, at most maxFree
	nfree      int
	freeT      *tenant // pooled tenants, at most maxFree
	nfreeT     int
}

// maxSpin is how many times Enter yields, while only the holder is ahead,
// before it queues.
const maxSpin = 4

// maxFree bounds the waiters and tenants kept for reuse.
const maxFree = 256

// level is one priority level's queues. Requires Scheduler.mu held.
type level struct {
	tenants map[string]*tenant
	active  []*tenant // tenants with calls queued, in arrival order
	vtime   float64   // start tag of the last call served
	credit  float64   // share earned while waiting, spent by a grant
	stats   Stats
}

// tenant is one tenant's queue in a level.
type tenant struct {
	name       string
	weight     float64
	finish     float64 // finish tag of the tenant's last queued call
	st         *Stats  // the tenant's counters
	head, tail *waiter
	next       *tenant // free list
}

// waiter is one queued caller.
type waiter struct {
	ready   chan struct{} // capacity 1: the baton was handed over
	start   float64
	since   time.Time
	granted bool
	next    *waiter
}

// New returns a Scheduler configured by cfg.
func New(cfg Config) *Scheduler {
	s := &Scheduler{shares: cfg.Shares, now: cfg.Now}
	switch {
	case s.shares == ([Levels]float64{}):
		s.shares = DefaultShares
	case s.shares[Critical] == Strict:
		s.shares = [Levels]float64{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range s.levels {
		s.levels[i].tenants = make(map[string]*tenant)
	}
	s.tstats = make(map[string]*Stats)
	return s
}

// TryEnter takes the baton if it is free and nobody is queued, and reports
// whether it did. It never blocks nor allocates; what it grants is counted
// in [Scheduler.Immediate], not in a level's Stats.
func (s *Scheduler) TryEnter() bool {
	s.mu.Lock()
	ok := !s.busy && s.waiting == 0
	if ok {
		s.busy = true
		s.immediate++
	}
	s.mu.Unlock()
	return ok
}

// Enter waits for the baton as a caller of level p and tenant (weight w; 0
// or less means 1). It returns nil holding the baton, which the caller must
// give back with Leave, or ctx.Err() if ctx ended first, holding nothing.
func (s *Scheduler) Enter(ctx context.Context, p Priority, tenantName string, w float64) error {
	p %= Levels
	if w <= 0 {
		w = 1
	}
	s.mu.Lock()
	for spin := 0; ; spin++ {
		if !s.busy && s.waiting == 0 {
			s.busy = true
			s.levels[p].stats.Granted++
			s.mu.Unlock()
			return nil
		}
		if spin == maxSpin || s.waiting > 0 {
			break
		}
		// The holder alone, likely about to leave (a token granted at
		// once): yield a few times before queuing, which costs a park and
		// a wake-up. Nobody queued is bypassed: the baton is taken only
		// while nobody waits; among callers spinning at once, whoever sees
		// it free first takes it, whatever its level (tokens are plentiful
		// then, or the holder would still be waiting for one).
		s.mu.Unlock()
		runtime.Gosched()
		s.mu.Lock()
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return err
	}
	wt := s.enqueue(p, tenantName, w, false)
	s.mu.Unlock()
	return s.await(ctx, p, tenantName, wt)
}

// Yield gives the baton, held by a caller of level p and tenant (weight w),
// to a caller of a higher level if one is waiting or arrives within d, and
// then waits to have it back, ahead of every other caller of its level. It
// reports whether it yielded; after d, or when ctx ends, without a yield,
// it returns false and nil, still holding the baton. An error (ctx ended
// while it waited for the baton back) means it holds nothing. A yield
// counts as a wait in the Stats. A holder handed the baton for its level's
// guaranteed share while a higher level waited never yields: it waits d and
// returns false, so that the share holds when the store defers its level.
func (s *Scheduler) Yield(ctx context.Context, p Priority, tenantName string, w float64, d time.Duration) (bool, error) {
	p %= Levels
	if w <= 0 {
		w = 1
	}
	s.mu.Lock()
	if s.shareTurn {
		// Served for its level's guaranteed share: the baton is not given
		// back to the higher level it was taken from.
		s.mu.Unlock()
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		return false, nil
	}
	if !s.higherLocked(p) {
		if d <= 0 {
			s.mu.Unlock()
			return false, nil
		}
		ch := make(chan struct{}, 1)
		s.watch, s.watchLevel = ch, p
		s.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		s.mu.Lock()
		s.watch = nil
		if !s.higherLocked(p) || ctx.Err() != nil {
			s.mu.Unlock()
			return false, nil
		}
	}
	wt := s.enqueue(p, tenantName, w, true)
	s.handOffLocked()
	s.mu.Unlock()
	return true, s.await(ctx, p, tenantName, wt)
}

// higherLocked reports whether a caller of a level above p waits. Requires
// s.mu held.
func (s *Scheduler) higherLocked(p Priority) bool {
	for i := range p {
		if s.levels[i].stats.Waiting > 0 {
			return true
		}
	}
	return false
}

// await waits for queued wt to be handed the baton, or takes it out of the
// queue when ctx ends first.
func (s *Scheduler) await(ctx context.Context, p Priority, tenantName string, wt *waiter) error {
	select {
	case <-wt.ready:
		s.mu.Lock()
		s.putWaiter(wt)
		s.mu.Unlock()
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if wt.granted {
		// Handed the baton as ctx ended: pass it on.
		<-wt.ready
		s.putWaiter(wt)
		s.handOffLocked()
		return ctx.Err()
	}
	s.removeLocked(p, tenantName, wt)
	s.levels[p].stats.Canceled++
	s.statsOf(tenantName).Canceled++
	s.putWaiter(wt)
	return ctx.Err()
}

// ShareTurn reports whether the holder was handed the baton for its level's
// guaranteed share while callers of a higher level waited, and the highest
// such level: a store that orders takers across processes is to serve the
// holder as that level, or the share would not hold there.
func (s *Scheduler) ShareTurn() (Priority, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shareFrom, s.shareTurn
}

// Leave gives the baton to the next caller chosen, or frees it.
func (s *Scheduler) Leave() {
	s.mu.Lock()
	s.handOffLocked()
	s.mu.Unlock()
}

// Stats returns the counters of level p.
func (s *Scheduler) Stats(p Priority) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.levels[p%Levels].stats
	return st
}

// Refused counts a caller of level p and tenant that got its turn and was
// then refused a token (its deadline came before the token).
func (s *Scheduler) Refused(p Priority, tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.levels[p%Levels].stats.Refused++
	s.statsOf(tenant).Refused++
}

// TenantStats returns the counters of the n tenants that waited most
// (Queued plus Canceled, then Refused; ties by name), followed, when there
// are others, by their sum under [OtherTenants]. The tenants counted by
// name are the first [MaxTenantStats] seen waiting or refused; "" is the
// callers without a tenant.
func (s *Scheduler) TenantStats(n int) []TenantStats {
	s.mu.Lock()
	all := make([]TenantStats, 0, len(s.tstats))
	for name, st := range s.tstats {
		all = append(all, TenantStats{Tenant: name, Stats: *st})
	}
	other := s.other
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b TenantStats) int {
		return cmp.Or(cmp.Compare(b.Queued+b.Canceled, a.Queued+a.Canceled), cmp.Compare(b.Refused, a.Refused),
			cmp.Compare(a.Tenant, b.Tenant))
	})
	n = max(n, 0)
	hasOther := other != (Stats{})
	for _, t := range all[min(n, len(all)):] {
		other.Granted += t.Granted
		other.Queued += t.Queued
		other.Canceled += t.Canceled
		other.Refused += t.Refused
		other.Waited += t.Waited
		other.Waiting += t.Waiting
		hasOther = true
	}
	out := all[:min(n, len(all))]
	if hasOther {
		out = append(out, TenantStats{Tenant: OtherTenants, Stats: other})
	}
	return out
}

// statsOf returns tenant's counters. Requires s.mu held.
func (s *Scheduler) statsOf(tenant string) *Stats {
	if st := s.tstats[tenant]; st != nil {
		return st
	}
	if len(s.tstats) >= MaxTenantStats {
		return &s.other
	}
	st := &Stats{}
	s.tstats[tenant] = st
	return st
}

// Immediate returns how many batons TryEnter granted.
func (s *Scheduler) Immediate() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.immediate
}

// Tenants returns how many tenants have calls queued now, all levels.
func (s *Scheduler) Tenants() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range s.levels {
		n += len(s.levels[i].tenants)
	}
	return n
}

// enqueue queues a caller; a caller in front (one that yielded) starts at
// the level's virtual time, without charging its tenant, and goes to the
// head of its tenant's queue. Requires s.mu held.
func (s *Scheduler) enqueue(p Priority, name string, w float64, front bool) *waiter {
	lv := &s.levels[p]
	t := lv.tenants[name]
	if t == nil {
		t = s.getTenant()
		t.name, t.weight, t.finish, t.st = name, w, lv.vtime, s.statsOf(name)
		lv.tenants[name] = t
		lv.active = append(lv.active, t)
	}
	wt := s.getWaiter()
	wt.since = s.now()
	switch {
	case front:
		wt.start = lv.vtime
		wt.next = t.head
		t.head = wt
		if t.tail == nil {
			t.tail = wt
		}
	default:
		wt.start = max(lv.vtime, t.finish)
		t.finish = wt.start + 1/t.weight
		if t.tail == nil {
			t.head = wt
		} else {
			t.tail.next = wt
		}
		t.tail = wt
	}
	s.waiting++
	lv.stats.Waiting++
	t.st.Waiting++
	if s.watch != nil && p < s.watchLevel {
		select {
		case s.watch <- struct{}{}:
		default:
		}
	}
	return wt
}

// removeLocked takes wt out of its tenant's queue (its ctx ended).
func (s *Scheduler) removeLocked(p Priority, name string, wt *waiter) {
	lv := &s.levels[p]
	t := lv.tenants[name]
	var prev *waiter
	for w := t.head; w != nil; prev, w = w, w.next {
		if w != wt {
			continue
		}
		if prev == nil {
			t.head = w.next
		} else {
			prev.next = w.next
		}
		if t.tail == w {
			t.tail = prev
		}
		break
	}
	s.waiting--
	lv.stats.Waiting--
	t.st.Waiting--
	if t.head == nil {
		s.dropTenant(lv, t)
	}
}

// handOffLocked gives the baton to the next caller, or frees it.
func (s *Scheduler) handOffLocked() {
	if s.waiting == 0 {
		s.busy = false
		s.shareTurn = false
		return
	}
	p := s.pickLevel()
	lv := &s.levels[p]
	var t *tenant
	for _, c := range lv.active {
		if t == nil || c.head.start < t.head.start {
			t = c
		}
	}
	wt := t.head
	waited := s.now().Sub(wt.since)
	st := t.st
	st.Waiting--
	st.Granted++
	st.Queued++
	st.Waited += waited
	t.head = wt.next
	if t.head == nil {
		t.tail = nil
		s.dropTenant(lv, t)
	}
	wt.next = nil
	lv.vtime = wt.start
	s.waiting--
	lv.stats.Waiting--
	lv.stats.Granted++
	lv.stats.Queued++
	lv.stats.Waited += waited
	wt.granted = true
	wt.ready <- struct{}{}
}

// pickLevel chooses the level served next: a waiting level whose guaranteed
// share is due, else the highest waiting level. Each waiting level earns its
// share on every grant; a level not waiting earns nothing and keeps nothing.
func (s *Scheduler) pickLevel() Priority {
	due, top := Levels, Levels
	for i := range s.levels {
		lv := &s.levels[i]
		if lv.stats.Waiting == 0 {
			lv.credit = 0
			continue
		}
		if top == Levels {
			top = i
		}
		lv.credit = min(lv.credit+s.shares[i], 2)
		if lv.credit >= 1 && due == Levels {
			due = i
		}
	}
	p := top
	if due != Levels {
		p = due
	}
	s.levels[p].credit = max(s.levels[p].credit-1, 0)
	s.shareTurn, s.shareFrom = p != top, Priority(top)
	return Priority(p)
}

// dropTenant forgets t, whose queue is empty.
func (s *Scheduler) dropTenant(lv *level, t *tenant) {
	delete(lv.tenants, t.name)
	for i, c := range lv.active {
		if c == t {
			last := len(lv.active) - 1
			copy(lv.active[i:], lv.active[i+1:])
			lv.active[last] = nil
			lv.active = lv.active[:last]
			break
		}
	}
	if s.nfreeT < maxFree {
		*t = tenant{next: s.freeT}
		s.freeT = t
		s.nfreeT++
	}
}

func (s *Scheduler) getTenant() *tenant {
	if t := s.freeT; t != nil {
		s.freeT = t.next
		s.nfreeT--
		t.next = nil
		return t
	}
	return &tenant{}
}

func (s *Scheduler) getWaiter() *waiter {
	if w := s.free; w != nil {
		s.free = w.next
		s.nfree--
		w.next = nil
		return w
	}
	return &waiter{ready: make(chan struct{}, 1)}
}

// putWaiter pools wt, whose ready channel is empty. Requires s.mu held.
func (s *Scheduler) putWaiter(wt *waiter) {
	if s.nfree >= maxFree {
		return
	}
	wt.granted, wt.start, wt.since = false, 0, time.Time{}
	wt.next = s.free
	s.free = wt
	s.nfree++
}
