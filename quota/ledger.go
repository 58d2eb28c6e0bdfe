package quota

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// MaxHold is how long a holding lasts at the latest: Twilio ends Rooms and
// Participants after 24 hours (maximum Room and Participant duration,
// https://www.twilio.com/docs/video/api/rooms-resource).
const MaxHold = 24 * time.Hour

// reserveWaitPoll is how often [Ledger.ReserveWait] looks again for capacity
// freed by other clients of a shared store; releases through the same Ledger
// wake it at once.
const reserveWaitPoll = 100 * time.Millisecond

// ErrClosed is returned by the operations of a closed [Ledger], and by a
// [Ledger.ReserveWait] that Close woke. It is the one "closed" error of the
// module: the errors of a closed video.Client and of a closed
// redisstore.Store match it with errors.Is too.
var ErrClosed = errors.New("quota: closed")

// Ledger accounts for one account's concurrent Rooms and Participants in a
// [backend.Store]: a slot is reserved before a request that would take one, committed
// under the Twilio SID on success and released when the Room completes or the
// Participant disconnects. It fires the registered [ThresholdFunc]s on its own
// goroutine when usage crosses their levels.
//
// # Threshold events
//
// Each crossing of a level is delivered once rising and once falling: the
// store decides the crossings of its operations atomically, the Ledger
// delivers them in the order the store decided them (even when operations
// finish out of that order), and Twilio's own report of a crossing (a 53121
// passed to [Ledger.Notify], with the store's usage as Used) is delivered
// only when the level was not already reported rising, by this Ledger or,
// as the usage past the level shows, by another sharing the store; a rising
// crossing the store decides after Twilio reported it is then not
// delivered again.
//
// A Ledger is safe for simultaneous use. Close it to stop its event goroutine.
type Ledger struct {
	store   backend.Store
	account string
	bounds  atomic.Pointer[[2]backend.Bounds] // in force; replaced, never changed
	subs    []subscription
	clock   Clock
	log     *slog.Logger
	levels  []float64 // every level watched, ascending

	// own is the configured limits, offered to a store that keeps the
	// account's limits (limits, nil otherwise) with the Ledger's start.
	own    backend.AccountLimits
	limits backend.LimitsStore

	seen     [2]atomic.Int64 // per resource: the usage the store last reported
	refusing [2]atomic.Bool  // per resource: Hold refuses at the tracking cap (logged once)

	waiters atomic.Int32 // ReserveWait calls waiting for a release
	closing atomic.Bool

	mu      sync.Mutex
	ops     opOrder
	queue   []Event
	wake    chan struct{} // signals the event goroutine
	freed   chan struct{} // closed and replaced on every release, and on Close
	closed  bool
	done    chan struct{}
	stopped chan struct{}
	inFunc  bool               // a ThresholdFunc is running (the event goroutine is in it)
	started sync.Once          // the event goroutine starts with the first event (or Close)
	up      [2]map[float64]int // per resource and level: levelDown, levelUp or levelTwilio
	full    [2]fullEpisode     // per resource: Twilio's refusal, from MarkFull until a source shows room
	told    time.Time          // the Since of the limits in force last logged as differing from own
	offered time.Time          // when the limits in force were last learnt from the store
}

// fullEpisode is one episode of a resource marked full after Twilio refused
// for its quota: it begins with the first [Ledger.MarkFull] and ends when a
// source shows room (see MarkFull). Guarded by the Ledger's mutex.
type fullEpisode struct {
	open         bool
	since, until time.Time // the first refusal; until when reservations are refused locally
}

type subscription struct {
	fn     ThresholdFunc
	levels []float64
}

// NewLedger returns a Ledger for account with the concurrency limits of limits
// (zero fields take Twilio's defaults). It takes [WithThresholds],
// [WithClock] and [WithLogger]. It fails for a nil store, invalid limits or
// an invalid option.
//
// # One set of limits per account
//
// When store implements [backend.LimitsStore] (memstore and redisstore
// do), the Ledger offers its limits to the store, stamped with the time
// NewLedger was called, before each Reserve, and enforces the limits the
// store keeps in force: those of the Ledger started last (see
// backend.LimitsStore for the rule and how a rolling deploy raises or
// lowers a quota). A reservation admitted learns them once more (another
// round trip) and is given back, refused, when lower limits came into force
// meanwhile and it took usage past them. So every client of the account
// refuses at the same count, also while a deploy starts. [Ledger.Limit] returns the limits in force; when they differ from
// the configured ones the Ledger logs one line at Warn naming both (once per
// set of limits in force). An offer lapses after [LimitsTTL] without
// another. Each client's threshold levels are shares of the
// limit in force, and the store keeps their state per limit: when the limit
// changes, each level rises afresh at its new rising point.
func NewLedger(store backend.Store, account string, limits Limits, opts ...Option) (*Ledger, error) {
	if store == nil {
		return nil, errors.New("quota: NewLedger: nil Store")
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	o, err := build(opts)
	if err == nil {
		err = o.only("NewLedger", true, true)
	}
	if err != nil {
		return nil, err
	}
	limits = limits.WithDefaults()
	l := &Ledger{
		store:   store,
		account: account,
		clock:   o.clock,
		log:     o.log,
		subs:    o.subs,
		wake:    make(chan struct{}, 1),
		freed:   make(chan struct{}),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		up:      [2]map[float64]int{{}, {}},
	}
	var levels []float64
	for _, s := range l.subs {
		levels = append(levels, s.levels...)
	}
	slices.Sort(levels)
	l.levels = slices.Compact(levels)
	own := [2]int{}
	for _, res := range [...]Resource{Rooms, Participants} {
		limit := limits.Concurrency(res)
		if limit < 0 {
			limit = Unlimited
		}
		own[res] = limit
	}
	l.own = backend.AccountLimits{Rooms: own[Rooms], Participants: own[Participants], Since: l.clock.Now()}
	l.limits, _ = store.(backend.LimitsStore)
	l.setBounds(l.own)
	return l, nil
}

// setBounds makes lim the limits the Ledger enforces.
func (l *Ledger) setBounds(lim backend.AccountLimits) {
	var b [2]backend.Bounds
	for _, res := range [...]backend.Resource{backend.Rooms, backend.Participants} {
		limit := lim.Limit(res)
		b[res] = backend.Bounds{Limit: limit, Levels: l.levels, Hysteresis: hysteresis(limit)}
	}
	l.bounds.Store(&b)
}

// boundsOf returns the bounds in force for res.
func (l *Ledger) boundsOf(res Resource) *backend.Bounds { return &l.bounds.Load()[res&1] }

// LimitsTTL is how long a Ledger's offer of its limits to a store that
// keeps the account's limits stays in force without another (see
// [backend.LimitsStore]): a Ledger offers them at every Reserve, and at a
// Used when it has not for a second. Once every Ledger of a configuration
// has stopped, its limits lapse within LimitsTTL and those of the running
// Ledgers are in force.
const LimitsTTL = 10 * time.Minute

// limitsMaxAge is how old the limits in force learnt from the store may be
// for [Ledger.Used] (and so a client's Usage) to show them, and for a Hold
// at the tracking cap to be refused; Reserve learns them afresh every time.
const limitsMaxAge = time.Second

// offerLimits offers the configured limits to a store that keeps the
// account's limits and adopts those in force, unless they were learnt less
// than maxAge ago. It logs the limits in force when they differ from the
// configured ones, once per set in force. A store error is returned: the
// operation that follows would meet the same store.
func (l *Ledger) offerLimits(ctx context.Context, maxAge time.Duration) error {
	if l.limits == nil {
		return nil
	}
	if maxAge > 0 {
		l.mu.Lock()
		fresh := !l.offered.IsZero() && l.clock.Now().Sub(l.offered) < maxAge
		l.mu.Unlock()
		if fresh {
			return nil
		}
	}
	in, err := l.limits.OfferLimits(ctx, l.account, l.own, LimitsTTL)
	if err != nil {
		return err
	}
	cur := l.bounds.Load()
	if cur[Rooms].Limit != in.Rooms || cur[Participants].Limit != in.Participants {
		l.setBounds(in)
	}
	differ := in.Rooms != l.own.Rooms || in.Participants != l.own.Participants
	l.mu.Lock()
	l.offered = l.clock.Now()
	tell := differ && !in.Since.Equal(l.told)
	if tell {
		l.told = in.Since
	}
	l.mu.Unlock()
	if tell && l.log != nil {
		l.log.Warn("quota: the account's limits in force differ from this client's configured limits; enforcing those in force (the client started last wins)",
			"account", l.account,
			"configured_rooms", l.own.Rooms, "configured_participants", l.own.Participants,
			"in_force_rooms", in.Rooms, "in_force_participants", in.Participants,
			"in_force_since", in.Since.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// startRun starts the event goroutine once: with the first event to
// deliver, or at Close, so that a Ledger that never has one (an idle
// account among thousands) costs no goroutine.
func (l *Ledger) startRun() { l.started.Do(func() { go l.run() }) }

// hysteresis is how far usage must fall under a level before it is reported
// falling: 2% of the limit, at least one slot.
func hysteresis(limit int) int {
	return max(int(math.Ceil(0.02*float64(limit))), 1)
}

// check refuses an operation on a closed Ledger or with a nil or ended ctx.
func (l *Ledger) check(ctx context.Context) error {
	if ctx == nil {
		return errors.New("quota: nil Context")
	}
	if l.closing.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// Reserve takes a pending slot of res under key, lapsing after ttl, or
// returns an *ExceededError (SourceLocal) at once when the quota is used up.
// It returns [ErrClosed] after Close and ctx's error when ctx has ended.
func (l *Ledger) Reserve(ctx context.Context, res Resource, key string, ttl time.Duration) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	if err := l.offerLimits(ctx, 0); err != nil {
		return err
	}
	var bound int // the limit the store decided at
	c, err := l.apply(ctx, res, SourceLocal, func(b *backend.Bounds) (backend.Change, error) {
		bound = b.Limit
		return l.store.Reserve(ctx, l.account, backend.Resource(res), key, b, ttl)
	})
	if err == nil && !c.Refused && c.Changed && l.limits != nil && bound >= 0 {
		c, err = l.recheck(ctx, res, key, bound, c)
	}
	if err == nil && c.Refused {
		e := &ExceededError{Resource: res, Used: c.Used, Limit: c.Limit, Code: res.ExceededCode(), Source: SourceLocal}
		l.mu.Lock()
		if f := l.full[res&1]; f.open && l.clock.Now().Before(f.until) {
			e.FullSince, e.FullUntil = f.since, f.until
		}
		l.mu.Unlock()
		return e
	}
	if err == nil && c.Changed {
		l.clearedFull(res, c.Used)
	}
	return err
}

// recheck learns the limits in force again after a reservation the store
// admitted at limit bound, c its answer: another client may have offered
// later, lower limits between this Ledger's offer and the reservation (two
// round trips). When the limit in force is lower than bound and the
// reservation took usage past it, the reservation is given back and c is
// returned refused at the limit in force: every client of the account
// refuses at the same count, also while a deploy starts.
func (l *Ledger) recheck(ctx context.Context, res Resource, key string, bound int, c backend.Change) (backend.Change, error) {
	if err := l.offerLimits(ctx, 0); err != nil {
		return c, nil // the reservation stands, decided at the limits last learnt
	}
	limit := l.boundsOf(res).Limit
	if limit < 0 || limit >= bound || c.Used <= limit {
		return c, nil
	}
	if err := l.Release(ctx, res, key, SourceLocal); err != nil {
		return c, err
	}
	return backend.Change{Refused: true, Used: c.Used - 1, Limit: limit}, nil
}

// clearedFull ends the full episode of res when the store admitted a
// reservation, or showed no mark, before the mark would have lapsed: a
// source that showed room (a release or a listing, through any client of
// the store) cleared it.
func (l *Ledger) clearedFull(res Resource, used int) {
	l.mu.Lock()
	f := l.full[res&1]
	l.mu.Unlock()
	if f.open && l.clock.Now().Before(f.until) {
		l.endFull(res, used, SourceLocal)
	}
}

// ReserveWait is Reserve that waits for capacity until ctx ends (it then
// returns the last *ExceededError) or the Ledger is closed ([ErrClosed])
// instead of refusing. A release through this Ledger wakes it at once; a
// release by another client of a shared store is seen within
// [reserveWaitPoll].
func (l *Ledger) ReserveWait(ctx context.Context, res Resource, key string, ttl time.Duration) error {
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	for {
		l.mu.Lock()
		freed := l.freed
		l.mu.Unlock()
		err := l.Reserve(ctx, res, key, ttl)
		if !errors.Is(err, ErrExceeded) {
			return err
		}
		t := time.NewTimer(reserveWaitPoll)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		t.Stop()
		if l.closing.Load() {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return err
		}
	}
}

// Commit turns the reservation under key into a holding under holdKey;
// src says how the Room or Participant was learnt to exist (the Client's own
// call, a callback). Committing a reservation that is gone (lapsed, or
// settled by another source) holds holdKey all the same, unless the store
// knows holdKey ended (see [backend.EndedTTL]): it then only drops key.
func (l *Ledger) Commit(ctx context.Context, res Resource, key, holdKey string, src Source) error {
	c, err := l.apply(ctx, res, src, func(b *backend.Bounds) (backend.Change, error) {
		return l.store.Commit(ctx, l.account, backend.Resource(res), key, holdKey, b, MaxHold)
	})
	if err == nil && src == SourceLocal {
		// Twilio accepted the Client's own create: it had room.
		l.endFull(res, c.Used, src)
	}
	return err
}

// Hold records a slot known to be held (src says how it was learnt), even
// past the limit, but not past the tracking cap: when the store counts
// [TrackCapFactor] times the limit in force or more it records nothing and
// returns a *[TrackCapError] (logged at Warn once per run of refusals).
// Holds running at once may each pass the check: the count may exceed the
// cap by as many. A key the store knows ended (see [backend.EndedTTL]) is
// not held.
func (l *Ledger) Hold(ctx context.Context, res Resource, key string, src Source) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	if err := l.capped(ctx, res); err != nil {
		return err
	}
	_, err := l.apply(ctx, res, src, func(b *backend.Bounds) (backend.Change, error) {
		return l.store.Hold(ctx, l.account, backend.Resource(res), key, b, MaxHold)
	})
	return err
}

// Release gives back the slot under key (src says how its end was learnt);
// an unknown key changes no count, and the store remembers it ended, as it
// does a holding given back (see [backend.EndedTTL]). It wakes the ReserveWait calls of this
// Ledger when it freed a slot.
func (l *Ledger) Release(ctx context.Context, res Resource, key string, src Source) error {
	c, err := l.apply(ctx, res, src, func(b *backend.Bounds) (backend.Change, error) {
		return l.store.Release(ctx, l.account, backend.Resource(res), key, b)
	})
	if err == nil && c.Changed && l.waiters.Load() > 0 {
		l.signalFreed()
	}
	if err == nil && c.Changed && src != SourceLocal {
		// A Room or Participant that Twilio reported ended: capacity was
		// freed there.
		l.endFull(res, c.Used, src)
	}
	return err
}

// signalFreed wakes every ReserveWait of this Ledger.
func (l *Ledger) signalFreed() {
	l.mu.Lock()
	close(l.freed)
	l.freed = make(chan struct{})
	l.mu.Unlock()
}

// Sync makes the holdings of res exactly keys, a listing that began keep
// ago (pending reservations, and holdings added since the listing began,
// stay), and returns the drift it corrected. Crossings it causes are
// reported with [SourceReconcile].
func (l *Ledger) Sync(ctx context.Context, res Resource, keys []string, keep time.Duration) (added, removed int, err error) {
	var a, r int
	_, err = l.apply(ctx, res, SourceReconcile, func(b *backend.Bounds) (backend.Change, error) {
		c, added, removed, err := l.store.Sync(ctx, l.account, backend.Resource(res), keys, b, MaxHold, keep)
		a, r = added, removed
		return c, err
	})
	if err == nil && r > 0 && l.waiters.Load() > 0 {
		l.signalFreed()
	}
	if b := l.boundsOf(res); err == nil && b.Limit >= 0 && len(keys) < b.Limit {
		// Twilio listed fewer than the quota: it has room.
		l.endFull(res, len(keys), SourceReconcile)
	}
	return a, r, err
}

// MarkFull records that Twilio refused for the quota of res (53119 or
// 53206, src saying how it was learnt: a REST answer is [SourceTwilio],
// as is a Debugger event) at at: reservations of res are refused locally
// for d, or until a release or a listing clears the mark, and their
// *[ExceededError] says since when and until when.
//
// The first MarkFull of an episode delivers one [Event] with Level 1,
// Rising, Code 53119 or 53206, and Used equal to Limit (Twilio found the
// quota used up, whatever this Ledger counted); later ones in the episode
// (the same refusal reported by the REST answer and by the Debugger, a
// create that tried again after d) only extend the mark. The episode ends,
// with one falling Event of the same Level and Code, when a source shows
// room: a Room or Participant reported ended ([Ledger.Release] with a
// Source other than SourceLocal), a listing of fewer than the quota
// ([Ledger.Sync]), the Client's own create accepted by Twilio
// ([Ledger.Commit] with SourceLocal), which d lets through as a probe once
// the mark lapses, or the store found without the mark before it would
// have lapsed (a Reserve admitted, a Used read): another client of the
// store heard the source that showed room.
func (l *Ledger) MarkFull(ctx context.Context, res Resource, d time.Duration, src Source, at time.Time) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	if err := l.store.MarkFull(ctx, l.account, backend.Resource(res), d); err != nil {
		return err
	}
	limit := l.boundsOf(res).Limit
	l.mu.Lock()
	f := &l.full[res&1]
	first := !f.open
	if first {
		f.open, f.since = true, at
	}
	f.until = l.clock.Now().Add(d)
	closed := l.closed
	if first && !closed && len(l.subs) > 0 {
		l.ops.hold(Event{Resource: res, Used: limit, Limit: limit, Level: 1, Rising: true,
			Code: res.ExceededCode(), Source: src, At: at}, math.MaxUint64)
		l.queue = l.ops.release(l.queue)
	}
	l.mu.Unlock()
	if first {
		l.poke()
	}
	return nil
}

// endFull ends the full episode of res, if one is open, delivering its
// falling Event with the usage used.
func (l *Ledger) endFull(res Resource, used int, src Source) {
	l.mu.Lock()
	f := &l.full[res&1]
	if !f.open {
		l.mu.Unlock()
		return
	}
	*f = fullEpisode{}
	if !l.closed && len(l.subs) > 0 {
		l.ops.hold(Event{Resource: res, Used: used, Limit: l.boundsOf(res).Limit, Level: 1, Rising: false,
			Code: res.ExceededCode(), Source: src, At: l.clock.Now()}, math.MaxUint64)
		l.queue = l.ops.release(l.queue)
	}
	l.mu.Unlock()
	l.poke()
}

// FullSince returns when Twilio's refusal for res began the episode in
// progress (see [Ledger.MarkFull]), or the zero Time when none is.
func (l *Ledger) FullSince(res Resource) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.full[res&1].since
}

// Holds reports whether key is pending or held.
func (l *Ledger) Holds(ctx context.Context, res Resource, key string) (bool, error) {
	if err := l.check(ctx); err != nil {
		return false, err
	}
	return l.store.Holds(ctx, l.account, backend.Resource(res), key)
}

// Used returns held plus pending slots of res, and whether it is marked full.
// With a store that keeps the account's limits it first learns the limits
// in force, unless it did less than a second ago (see [NewLedger]).
func (l *Ledger) Used(ctx context.Context, res Resource) (int, bool, error) {
	if err := l.check(ctx); err != nil {
		return 0, false, err
	}
	if err := l.offerLimits(ctx, limitsMaxAge); err != nil {
		return 0, false, err
	}
	used, full, err := l.store.Used(ctx, l.account, backend.Resource(res))
	if err == nil {
		l.seen[res&1].Store(int64(used))
	}
	if err == nil && !full {
		l.clearedFull(res, used)
	}
	return used, full, err
}

// Limit returns the quota of res (negative when unlimited).
// With a store that keeps the account's limits it is the limit in force
// (see [NewLedger]), as last learnt from the store.
func (l *Ledger) Limit(res Resource) int { return l.boundsOf(res).Limit }

// apply runs one store operation and queues the crossings it caused, in the
// store's order (see opOrder).
func (l *Ledger) apply(ctx context.Context, res Resource, src Source, op func(*backend.Bounds) (backend.Change, error)) (backend.Change, error) {
	if err := l.check(ctx); err != nil {
		return backend.Change{}, err
	}
	b := l.boundsOf(res)
	if len(l.subs) == 0 {
		c, err := op(b)
		if err == nil {
			l.seen[res&1].Store(int64(c.Used))
		}
		return c, err
	}
	l.mu.Lock()
	t := l.ops.begin()
	l.mu.Unlock()
	c, err := op(b)
	if err == nil {
		l.seen[res&1].Store(int64(c.Used))
	}
	var at time.Time
	if len(c.Crossings) > 0 {
		at = l.clock.Now()
	}
	l.mu.Lock()
	if !l.closed {
		for _, x := range c.Crossings {
			l.ops.hold(Event{Resource: res, Used: c.Used, Limit: b.Limit, Level: x.Level,
				Rising: x.Rising, Code: CodeApproachingQuota, Source: src, At: at}, c.Seq)
		}
	}
	ready := l.ops.end(t, l.queue)
	woke := len(ready) > len(l.queue)
	l.queue = ready
	l.mu.Unlock()
	if woke {
		l.poke()
	}
	return c, err
}

// Notify delivers an event reported by Twilio (a 53121 Debugger event, a
// 53119 refusal) to the threshold funcs registered for its level, on the
// ledger's event goroutine, after the crossings already decided. A 53121 for
// a level already reported rising is dropped (see the type's doc); its Used
// should be the store's usage ([Ledger.Used]) when it is notified. The
// store decides a level's crossings only in the operations of Ledgers that
// watch the level, so a usage past it shows a crossing reported elsewhere
// only if every Ledger of the store watches it: otherwise first Release a
// key never reserved, which has the store decide this Ledger's levels at
// the current usage (a crossing nobody was told of then comes here). An event
// whose Level is 0 or whose Code is not 53121 goes to every registered func.
// After Close it does nothing.
func (l *Ledger) Notify(e Event) {
	if len(l.subs) == 0 {
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	e.notified = true
	l.ops.hold(e, math.MaxUint64)
	l.queue = l.ops.release(l.queue)
	l.mu.Unlock()
	l.poke()
}

func (l *Ledger) poke() {
	l.startRun()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events in order until Close.
func (l *Ledger) run() {
	defer close(l.stopped)
	var batch []Event
	for {
		select {
		case <-l.wake:
		case <-l.done:
		}
		l.mu.Lock()
		batch, l.queue = l.queue, batch[:0]
		closed := l.closed
		l.mu.Unlock()
		for _, e := range batch {
			l.deliver(e)
		}
		if closed {
			l.mu.Lock()
			rest := append(l.queue, l.ops.drain()...)
			l.queue = nil
			l.mu.Unlock()
			for _, e := range rest {
				l.deliver(e)
			}
			return
		}
	}
}

// Per-level state of what the Ledger delivered, for dropping repeats.
const (
	levelDown   = iota // last delivered falling, or nothing yet
	levelUp            // last delivered rising, decided by the store
	levelTwilio        // reported rising by Twilio (53121) only
)

// deliver passes e to the funcs registered for it, unless it repeats what
// was delivered for its resource and level: Twilio's 53121 for a level
// already up, here or, as e.Used shows, through another client of the
// store; or the store's rising crossing for a level Twilio already
// reported up. The store decides each of its crossings once for all its
// clients, so a falling crossing is always delivered (another process may
// have received the rising one). Only the event goroutine calls it.
func (l *Ledger) deliver(e Event) {
	if e.Code == CodeApproachingQuota && e.Level > 0 {
		up := l.up[e.Resource&1]
		st := up[e.Level]
		switch {
		case e.notified:
			if st != levelDown {
				return
			}
			if b := l.boundsOf(e.Resource); b.Limit >= 0 && slices.Contains(b.Levels, e.Level) && e.Used >= backend.RisePoint(e.Level, b.Limit) {
				// The store's usage is past the level, so the store
				// decided the rising crossing, for whichever client made
				// the change, and delivered it there.
				up[e.Level] = levelUp
				return
			}
			up[e.Level] = levelTwilio
		case e.Rising:
			up[e.Level] = levelUp
			if st == levelTwilio {
				return
			}
		default:
			up[e.Level] = levelDown
		}
	}
	e.notified = false
	for _, s := range l.subs {
		if e.Level == 0 || e.Code != CodeApproachingQuota || slices.Contains(s.levels, e.Level) {
			l.mu.Lock()
			l.inFunc = true
			l.mu.Unlock()
			s.fn(e)
			l.mu.Lock()
			l.inFunc = false
			l.mu.Unlock()
		}
	}
}

// Close refuses every later operation with [ErrClosed], wakes the
// ReserveWait calls waiting for capacity (they return ErrClosed), and ends
// the event goroutine once it has delivered the events already decided.
//
// It waits for the event goroutine to end, unless a [ThresholdFunc] is
// running when Close is called (called from inside one, or from elsewhere at
// that moment): then Close returns at once, and the goroutine delivers the
// rest and ends as soon as that func returns. So a ThresholdFunc may call
// Close; a caller that must see every event delivered calls Close when no
// ThresholdFunc is running, e.g. after the operations whose events it awaits
// have been seen by its func. The Ledger needs no goroutine identity for
// this: it only knows whether its event goroutine is inside a func.
//
// It is safe to call more than once.
func (l *Ledger) Close() {
	l.closing.Store(true)
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.done)
		close(l.freed)
		l.freed = make(chan struct{})
	}
	inFunc := l.inFunc
	l.mu.Unlock()
	if inFunc {
		return
	}
	l.startRun() // it delivers what is left, then stops
	<-l.stopped
}

// opOrder delivers the crossings of concurrent store operations in the
// order the store decided them (Change.Seq), although the operations may
// return in another order. Each operation takes a ticket when it starts;
// a crossing that comes back is held until every operation that was
// running when it came back has ended (one of them might carry an earlier
// crossing), then released in Seq order. Events without a store order
// (Notify) are released after the crossings before them. It is guarded by
// the Ledger's mutex.
type opOrder struct {
	next    uint64              // the last ticket given
	running map[uint64]struct{} // tickets of operations not yet ended
	held    []heldEvent         // sorted by seq, then arrival
}

type heldEvent struct {
	e       Event
	seq     uint64
	barrier uint64 // the last ticket given when the event came back
}

func (o *opOrder) begin() uint64 {
	if o.running == nil {
		o.running = make(map[uint64]struct{})
	}
	o.next++
	o.running[o.next] = struct{}{}
	return o.next
}

// hold keeps e until it can be released in order.
func (o *opOrder) hold(e Event, seq uint64) {
	h := heldEvent{e: e, seq: seq, barrier: o.next}
	i := len(o.held)
	for i > 0 && o.held[i-1].seq > seq {
		i--
	}
	o.held = slices.Insert(o.held, i, h)
}

// end retires ticket t and appends what can now be released to q.
func (o *opOrder) end(t uint64, q []Event) []Event {
	delete(o.running, t)
	return o.release(q)
}

// release appends to q the held events, in order, that no running
// operation can precede any more.
func (o *opOrder) release(q []Event) []Event {
	if len(o.held) == 0 {
		return q
	}
	oldest := uint64(math.MaxUint64)
	for t := range o.running {
		oldest = min(oldest, t)
	}
	n := 0
	for n < len(o.held) && o.held[n].barrier < oldest {
		q = append(q, o.held[n].e)
		n++
	}
	o.held = slices.Delete(o.held, 0, n)
	return q
}

// drain returns every held event, in order (Close).
func (o *opOrder) drain() []Event {
	out := make([]Event, len(o.held))
	for i, h := range o.held {
		out[i] = h.e
	}
	o.held = nil
	return out
}
