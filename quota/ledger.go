package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxHold is how long a holding lasts at the latest: Twilio ends Rooms and
// Participants after 24 hours (maximum Room and Participant duration).
const MaxHold = 24 * time.Hour

// ReserveWaitPoll is how often [Ledger.ReserveWait] looks again for capacity
// freed by other clients of a shared store; releases through the same Ledger
// wake it at once.
const ReserveWaitPoll = 100 * time.Millisecond

// Ledger accounts for one account's concurrent Rooms and Participants in a
// [Store]: a slot is reserved before a request that would take one, committed
// under the Twilio SID on success and released when the Room completes or the
// Participant disconnects. It fires the registered [ThresholdFunc]s on its own
// goroutine when usage crosses their levels.
//
// A Ledger is safe for simultaneous use. Close it to stop its event goroutine.
type Ledger struct {
	store   Store
	account string
	bounds  [2]Bounds
	subs    []subscription
	now     func() time.Time

	waiters atomic.Int32 // ReserveWait calls waiting for a release

	mu      sync.Mutex
	queue   []Event
	wake    chan struct{} // signals the event goroutine
	freed   chan struct{} // closed and replaced on every release
	closed  bool
	done    chan struct{}
	stopped chan struct{}
}

type subscription struct {
	fn     ThresholdFunc
	levels []float64
}

// LedgerOption configures a Ledger.
type LedgerOption func(*Ledger) error

// WithThreshold registers fn for levels (shares of each quota, in (0, 1]);
// with no levels, fn gets [DefaultThresholdLevel]. It may be given several times.
func WithThreshold(fn ThresholdFunc, levels ...float64) LedgerOption {
	return func(l *Ledger) error {
		if fn == nil {
			return errors.New("quota: WithThreshold: nil ThresholdFunc")
		}
		if len(levels) == 0 {
			levels = []float64{DefaultThresholdLevel}
		}
		for _, lv := range levels {
			if !(lv > 0 && lv <= 1) {
				return fmt.Errorf("quota: WithThreshold: level %v outside (0, 1]", lv)
			}
		}
		l.subs = append(l.subs, subscription{fn: fn, levels: slices.Clone(levels)})
		return nil
	}
}

// WithClock sets the clock the ledger stamps events with (default time.Now).
func WithClock(now func() time.Time) LedgerOption {
	return func(l *Ledger) error {
		if now == nil {
			return errors.New("quota: WithClock: nil clock")
		}
		l.now = now
		return nil
	}
}

// NewLedger returns a Ledger for account with the concurrency limits of limits
// (zero fields take Twilio's defaults).
func NewLedger(store Store, account string, limits Limits, opts ...LedgerOption) (*Ledger, error) {
	if store == nil {
		return nil, errors.New("quota: NewLedger: nil Store")
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	limits = limits.WithDefaults()
	l := &Ledger{
		store:   store,
		account: account,
		now:     time.Now,
		wake:    make(chan struct{}, 1),
		freed:   make(chan struct{}),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	for _, o := range opts {
		if err := o(l); err != nil {
			return nil, err
		}
	}
	var levels []float64
	for _, s := range l.subs {
		levels = append(levels, s.levels...)
	}
	slices.Sort(levels)
	levels = slices.Compact(levels)
	for _, res := range [...]Resource{Rooms, Participants} {
		limit := limits.Concurrency(res)
		if limit < 0 {
			limit = Unlimited
		}
		l.bounds[res] = Bounds{Limit: limit, Levels: levels, Hysteresis: hysteresis(limit)}
	}
	go l.run()
	return l, nil
}

// hysteresis is how far usage must fall under a level before it is reported
// falling: 2% of the limit, at least one slot.
func hysteresis(limit int) int {
	return max(int(math.Ceil(0.02*float64(limit))), 1)
}

// NewKey returns a random reservation key, unique across processes.
func NewKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "rsv-" + hex.EncodeToString(b[:])
}

// Reserve takes a pending slot of res under key, lapsing after ttl, or
// returns an *ExceededError (SourceLocal) at once when the quota is used up.
func (l *Ledger) Reserve(ctx context.Context, res Resource, key string, ttl time.Duration) error {
	c, err := l.store.Reserve(ctx, l.account, res, key, &l.bounds[res&1], ttl)
	if err != nil {
		return err
	}
	l.crossed(res, c, SourceLocal)
	return nil
}

// ReserveWait is Reserve that waits for capacity until ctx ends instead of
// refusing; it then returns the last *ExceededError.
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
		t := time.NewTimer(ReserveWaitPoll)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		t.Stop()
	}
}

// Commit turns the reservation under key into a holding under holdKey.
func (l *Ledger) Commit(ctx context.Context, res Resource, key, holdKey string) error {
	c, err := l.store.Commit(ctx, l.account, res, key, holdKey, &l.bounds[res&1], MaxHold)
	if err != nil {
		return err
	}
	l.crossed(res, c, SourceLocal)
	return nil
}

// Hold records a slot Twilio reports held, even past the limit.
func (l *Ledger) Hold(ctx context.Context, res Resource, key string) error {
	c, err := l.store.Hold(ctx, l.account, res, key, &l.bounds[res&1], MaxHold)
	if err != nil {
		return err
	}
	l.crossed(res, c, SourceTwilio)
	return nil
}

// Release gives back the slot under key; an unknown key changes nothing.
func (l *Ledger) Release(ctx context.Context, res Resource, key string) error {
	c, err := l.store.Release(ctx, l.account, res, key, &l.bounds[res&1])
	if err != nil {
		return err
	}
	if c.Changed && l.waiters.Load() > 0 {
		l.mu.Lock()
		close(l.freed)
		l.freed = make(chan struct{})
		l.mu.Unlock()
	}
	l.crossed(res, c, SourceLocal)
	return nil
}

// Sync makes the holdings of res exactly keys (pending reservations stay)
// and returns the drift it corrected.
func (l *Ledger) Sync(ctx context.Context, res Resource, keys []string) (added, removed int, err error) {
	c, added, removed, err := l.store.Sync(ctx, l.account, res, keys, &l.bounds[res&1], MaxHold)
	if err != nil {
		return 0, 0, err
	}
	l.crossed(res, c, SourceReconcile)
	return added, removed, nil
}

// MarkFull refuses reservations of res for d or until corrected, after Twilio answered 53119/53206.
func (l *Ledger) MarkFull(ctx context.Context, res Resource, d time.Duration) error {
	return l.store.MarkFull(ctx, l.account, res, d)
}

// Holds reports whether key is pending or held.
func (l *Ledger) Holds(ctx context.Context, res Resource, key string) (bool, error) {
	return l.store.Holds(ctx, l.account, res, key)
}

// Used returns held plus pending slots of res, and whether it is marked full.
func (l *Ledger) Used(ctx context.Context, res Resource) (int, bool, error) {
	return l.store.Used(ctx, l.account, res)
}

// Limit returns the quota of res (negative when unlimited).
func (l *Ledger) Limit(res Resource) int { return l.bounds[res&1].Limit }

// Account returns the account SID the Ledger accounts for.
func (l *Ledger) Account() string { return l.account }

// crossed queues the events of c's crossings.
func (l *Ledger) crossed(res Resource, c Change, src Source) {
	if len(c.Crossings) == 0 {
		return
	}
	at := l.now()
	for _, x := range c.Crossings {
		l.Notify(Event{
			Resource: res, Used: c.Used, Limit: l.bounds[res&1].Limit, Level: x.Level,
			Rising: x.Rising, Code: CodeApproachingQuota, Source: src, At: at,
		})
	}
}

// Notify delivers an event reported by Twilio (a 53121 Debugger event, a
// 53119 refusal) to the threshold funcs registered for its level, on the
// ledger's event goroutine. An event whose Level is 0 or whose Code is not
// 53121 goes to every registered func. After Close it does nothing.
func (l *Ledger) Notify(e Event) {
	if len(l.subs) == 0 {
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.queue = append(l.queue, e)
	l.mu.Unlock()
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
			rest := l.queue
			l.mu.Unlock()
			for _, e := range rest {
				l.deliver(e)
			}
			return
		}
	}
}

func (l *Ledger) deliver(e Event) {
	for _, s := range l.subs {
		if e.Level == 0 || e.Code != CodeApproachingQuota || slices.Contains(s.levels, e.Level) {
			s.fn(e)
		}
	}
}

// Close delivers the events already queued and stops the event goroutine.
// It is safe to call more than once.
func (l *Ledger) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.stopped
		return
	}
	l.closed = true
	l.mu.Unlock()
	close(l.done)
	<-l.stopped
}
