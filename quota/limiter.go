package quota

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Adaptive rate constants: on a 20429 the bucket allowed, the rate is cut to
// DecreaseFactor of its value (at most once per RecoveryInterval, so one burst
// of 429s counts once) and the rate it was throttled at is remembered as the
// ceiling; after each RecoveryInterval without a 429 it grows back by
// IncreaseStep of the configured rate while under ProbeShare of the ceiling,
// then by ProbeStep, so it approaches the rate Twilio refused slowly instead
// of running into it again at full speed. This is
// additive-increase/multiplicative-decrease, as in AWS's adaptive retry mode.
const (
	DecreaseFactor   = 0.7
	IncreaseStep     = 0.05
	ProbeStep        = 0.01
	ProbeShare       = 0.9
	MinFactor        = 0.05
	RecoveryInterval = time.Second
)

// Limiter paces one account's requests through two token buckets, one for
// reads and one for writes, kept in a [Store]. When Twilio answers 20429 for a
// request the bucket allowed (another application on the account, a real
// quota lower than configured), [Limiter.Throttled] slows the bucket down
// multiplicatively and [Limiter.Succeeded] lets it recover additively (AIMD).
// The slow-down lives in the store, so every client of the store shares it.
//
// A Limiter is safe for simultaneous use.
type Limiter struct {
	store   Store
	account string
	rates   [2]Rate
	now     func() time.Time
	adapt   [2]adaptState
}

type adaptState struct {
	mu           sync.Mutex // serialises adjustments
	slowed       atomic.Bool
	lastThrottle atomic.Int64 // unix nanos of the last 20429 reported
	lastDecrease atomic.Int64 // unix nanos of the last decrease
	lastIncrease atomic.Int64 // unix nanos of the last increase
	factor       atomic.Uint64
	ceiling      float64 // the factor last throttled at; guarded by mu
}

// LimiterOption configures a Limiter.
type LimiterOption func(*Limiter)

// LimiterClock sets the clock for the adaptive recovery (default time.Now).
func LimiterClock(now func() time.Time) LimiterOption {
	return func(l *Limiter) {
		if now != nil {
			l.now = now
		}
	}
}

// NewLimiter returns a Limiter for account with the rates of limits
// (zero fields take Twilio's defaults).
func NewLimiter(store Store, account string, limits Limits, opts ...LimiterOption) *Limiter {
	limits = limits.WithDefaults()
	l := &Limiter{store: store, account: account, now: time.Now}
	for _, c := range [...]Class{Read, Write} {
		ps, burst := limits.Rate(c)
		if ps < 0 {
			ps = Unlimited
		}
		l.rates[c] = Rate{PerSecond: ps, Burst: burst}
		l.adapt[c].factor.Store(math.Float64bits(1))
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Wait takes one token of class, waiting until it may be used. If ctx's
// deadline comes before the token, Wait takes nothing and returns at once a
// *RateLimitError with CauseLocalDeadline; if ctx ends while waiting it
// returns ctx.Err(). A token is not given back when ctx ends during the wait.
func (l *Limiter) Wait(ctx context.Context, class Class) error {
	r := l.rates[class&1]
	if r.PerSecond < 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	maxWait := time.Duration(math.MaxInt64)
	if dl, ok := ctx.Deadline(); ok {
		maxWait = dl.Sub(l.now())
	}
	wait, ok, err := l.store.TakeToken(ctx, l.account, class, r, maxWait)
	if err != nil {
		return err
	}
	if !ok {
		return &RateLimitError{Class: class, Cause: CauseLocalDeadline, Wait: wait}
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Throttled reports a 20429 for a request of class that the bucket allowed.
// It lowers the shared rate factor at most once per [RecoveryInterval], so a
// burst of 429s answered to requests already in flight counts once; a 429
// that comes after a recovery step is heeded at once.
func (l *Limiter) Throttled(class Class) {
	a := &l.adapt[class&1]
	now := l.now().UnixNano()
	a.lastThrottle.Store(now)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.slowed.Load() && now-a.lastDecrease.Load() < int64(RecoveryInterval) {
		return
	}
	ctx := context.Background()
	f, err := l.store.RateFactor(ctx, l.account, class)
	if err != nil {
		return
	}
	a.ceiling = f
	f = max(f*DecreaseFactor, MinFactor)
	if l.store.SetRateFactor(ctx, l.account, class, f) != nil {
		return
	}
	a.factor.Store(math.Float64bits(f))
	a.slowed.Store(true)
	a.lastDecrease.Store(now)
}

// Succeeded reports a request of class that Twilio accepted. It is cheap: it
// returns at once unless the rate is slowed down, and then raises it once per
// [RecoveryInterval] without a 20429: by [IncreaseStep], or by [ProbeStep]
// near the rate last throttled at.
func (l *Limiter) Succeeded(class Class) {
	a := &l.adapt[class&1]
	if !a.slowed.Load() {
		return
	}
	now := l.now().UnixNano()
	if now-a.lastThrottle.Load() < int64(RecoveryInterval) {
		return
	}
	last := a.lastIncrease.Load()
	if now-last < int64(RecoveryInterval) || !a.lastIncrease.CompareAndSwap(last, now) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx := context.Background()
	f, err := l.store.RateFactor(ctx, l.account, class)
	if err != nil {
		return
	}
	step := IncreaseStep
	if f+step > ProbeShare*a.ceiling+1e-9 {
		step = ProbeStep
	}
	f = min(f+step, 1)
	if l.store.SetRateFactor(ctx, l.account, class, f) != nil {
		return
	}
	a.factor.Store(math.Float64bits(f))
	if f >= 1 {
		a.slowed.Store(false)
	}
}

// Factor returns the adaptive factor of class as this Limiter last set or
// saw it (1 = the configured rate).
func (l *Limiter) Factor(class Class) float64 {
	return math.Float64frombits(l.adapt[class&1].factor.Load())
}

// Rate returns the configured ceiling of class.
func (l *Limiter) Rate(class Class) Rate { return l.rates[class&1] }

// Account returns the account SID whose buckets the Limiter uses.
func (l *Limiter) Account() string { return l.account }
