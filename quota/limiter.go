package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// Adaptive rate constants. The factor scales a bucket's configured rate;
// these bound how it moves (see [Limiter] for the algorithm).
const (
	// minFactor is the lowest factor: a bucket never runs below 5% of its
	// configured rate.
	minFactor = 0.05
	// decreaseFactor is the cut for a 20429 when the delivery ratio is
	// higher, or when too few outcomes were measured for one (fewer than
	// minSamples) a measureWindow or more after the last change: at
	// least a 10% step down per decision (a process with a large share
	// gives up more than one with a small share).
	decreaseFactor = 0.9
	// minSamples is how many outcomes (successes plus 20429s) of the current
	// measurement window the delivery ratio needs.
	minSamples = 10
	// measureWindow is the span of one measurement window; the delivery
	// ratio is read over the current and the previous window, so over one to
	// two windows, and both start over when the factor changes.
	measureWindow = time.Second
	// decisionGap is how long after a change, or after the last request
	// granted before it is sent, answers are taken to belong to the rate
	// before the change: they are neither counted nor acted on.
	decisionGap = 200 * time.Millisecond
	// recoveryInterval is the base probe interval: after a change, the
	// factor is held for one interval (times a random 1 to 1.5, so that
	// processes do not probe in step) before it is raised by one step.
	recoveryInterval = time.Second
	// maxProbeInterval caps the probe interval, which doubles each time
	// 20429s come within 10% of the rate they came at before.
	maxProbeInterval = 8 * time.Second
	// increaseStep is the raise per probe, as a share of the configured
	// rate, while the factor is under probeShare of the ceiling (the rate
	// last throttled at) or no ceiling is known.
	increaseStep = 0.05
	// probeStep is the raise per probe near the ceiling, as a share of the
	// configured rate, at a factor of 0.25; at factor f it is scaled by
	// 0.25/f (within 0.5 and 4), so a process with a small share of an
	// account it does not coordinate on probes faster than one with a large
	// share. With proportional cuts, processes move toward equal shares.
	probeStep = 0.005
	// probeShare is where the climb slows from increaseStep to probeStep.
	probeShare = 0.9
	// factorTTL is how long a factor below 1 lasts in the store after it was
	// last adjusted: when no client of the store has adjusted it for that
	// long (all gone, or idle), the bucket runs at the configured rate again.
	factorTTL = 30 * time.Second
	// probeBackoff is the least cut for a 20429 during a probe: back under
	// the rate before the probe, and by at least 5%, so that a process with
	// a large share gives up more than one with a small share.
	probeBackoff = 0.95
	// margin is how far under the rate measured or last seen to pass a cut
	// goes, so that Twilio's bucket refills a little and the next probe
	// comes after a few intervals, not at once.
	margin = 0.02
	// logShare is the estimate, as a share of the configured rate, below
	// which the Limiter logs once what the account appears to allow.
	logShare = 0.8
)

// reserveHorizon bounds how far ahead [Limiter.Wait] takes a token: a
// caller that would wait longer waits first without one and asks again, so
// a change of the rate applies to callers already waiting, and the answers
// to requests sent at the old rate stop within about a horizon.
const reserveHorizon = time.Second

// returnTimeout bounds the store call that gives back a token whose wait
// the caller abandoned (its ctx has ended by then).
const returnTimeout = time.Second

// closedReturnWait bounds that call instead when the caller's ctx ended
// with [ErrClosed] as its cause (its owner closed, a video.Client say), so
// that a wait Close ended returns at once even on a hung store: the token
// given back is a best effort.
const closedReturnWait = 50 * time.Millisecond

// errZeroLimiter is returned by [Limiter.Wait] of a Limiter that was not made
// by [NewLimiter].
var errZeroLimiter = errors.New("quota: Limiter has no store: create it with NewLimiter")

// Limiter paces one account's requests through two token buckets, one for
// reads and one for writes, kept in a [backend.Store].
//
// # Finding the real rate
//
// The configured rate is a ceiling; the account may allow less (another
// application on it, a quota lower than configured, processes that do not
// share a store). Each bucket's rate is scaled by an adaptive factor in
// (0, 1], kept in the store so that every Limiter of the store shares it,
// and moved from what Twilio accepts, in the spirit of BBR's delivery-rate
// estimation and AWS's adaptive retry mode:
//
//   - Answers count only for requests sent at the factor in force: after a
//     change, until the last request granted before it has gone out (at
//     most reserveHorizon ahead) and decisionGap more, they are ignored.
//   - When Twilio answers 20429 to requests the bucket allowed
//     ([Limiter.Throttled]), the share of the recent outcomes (one to two
//     measureWindows, at least minSamples) that Twilio accepted measures
//     how much of the rate sent is available: the factor moves to
//     factor × accepted/sent, less a margin (at most halved per decision,
//     at least a decreaseFactor cut). A 20429 during a probe moves the
//     factor back under the rate before the probe, the last one seen to pass.
//   - After a change, the factor is held for a probe interval (times a random
//     1 to 1.5), then raised by increaseStep of the configured rate per
//     interval, and by probeStep near the rate last throttled at (more for
//     a small factor, less for a large one). Each time 20429s come again
//     within 10% of the rate they came at before, the probe interval doubles
//     (up to maxProbeInterval). A probe happens only while the bucket makes
//     callers wait (the rate, not the application, limits the requests), only
//     without a 20429 since the last change, and never above the configured
//     rate.
//   - While slowed, each token is used at a random point of its interval, so
//     processes that share an account without sharing a store do not send in
//     step, and 20429s fall on each in proportion to its rate; with additive
//     raises and proportional cuts they move toward equal shares.
//
// Every change is one atomic [backend.Store.AdjustRateFactor]; any Limiter of the
// store probes the factor back up, and it expires to 1 after factorTTL
// without a change. No store call is made under the Limiter's lock.
//
// A Limiter is safe for simultaneous use. Its zero value is not usable: its
// Wait returns [errZeroLimiter]; create one with [NewLimiter].
type Limiter struct {
	store   backend.Store
	account string
	rates   [2]backend.Rate
	clock   Clock
	log     *slog.Logger
	adapt   [2]adaptState
}

// adaptState is the adaptive rate of one class as one Limiter sees it.
type adaptState struct {
	poll     chan struct{} // held (capacity 1) by the caller at the head of the queue beyond the horizon
	factor   atomic.Uint64 // float64 bits: the factor as last set or seen
	lastWait atomic.Int64  // unix ns of the last token that had to wait
	lastSend atomic.Int64  // unix ns of the latest send a granted token is due at

	mu         sync.Mutex // guards the fields below; never held across a store call
	busy       bool       // a store call of this class is in flight
	winStart   int64      // unix ns when the current window began
	ok, thr    int64      // outcomes in the current window
	pOK, pThr  int64      // outcomes in the previous window
	lastChange int64      // unix ns of the last factor change
	settle     int64      // unix ns until which outcomes belong to the rate before the last change
	nextProbe  int64      // unix ns before which the factor is held
	probing    bool       // the last change was a raise, not yet seen to pass
	good       float64    // the factor before the probe, while probing
	ceiling    float64    // the factor last throttled at; 0 when unknown
	every      time.Duration
	logged     float64 // the estimate last logged; 0 when none
}

// NewLimiter returns a Limiter for account with the rates of limits
// (zero fields take Twilio's defaults). It takes [WithClock] and
// [WithLogger]. It fails for a nil store, invalid limits or an invalid
// option.
func NewLimiter(store backend.Store, account string, limits Limits, opts ...Option) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("quota: NewLimiter: nil Store")
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	o, err := build(opts)
	if err == nil {
		err = o.only("NewLimiter", true, false)
	}
	if err != nil {
		return nil, err
	}
	limits = limits.WithDefaults()
	l := &Limiter{store: store, account: account, clock: o.clock, log: o.log}
	for _, c := range [...]Class{Read, Write} {
		ps, burst := limits.rate(c)
		if ps < 0 {
			ps = Unlimited
		}
		l.rates[c] = backend.Rate{PerSecond: ps, Burst: burst}
		l.adapt[c].factor.Store(math.Float64bits(1))
		l.adapt[c].every = recoveryInterval
		l.adapt[c].poll = make(chan struct{}, 1)
	}
	return l, nil
}

// Wait takes one token of class, waiting until it may be used. It takes a
// token at most reserveHorizon ahead of its use; callers further back
// queue in the Limiter, first come first served, and the head of the queue
// asks the store again when its token comes within the horizon. If ctx's
// deadline comes before the token, Wait takes nothing and returns at once a
// *RateLimitError with CauseLocalDeadline; if ctx ends while waiting it
// gives back the token it holds, if any, and returns ctx.Err(). A Limiter not
// made by NewLimiter returns [errZeroLimiter].
func (l *Limiter) Wait(ctx context.Context, class Class) error {
	if l.store == nil {
		return errZeroLimiter
	}
	r := l.rates[class&1]
	if r.PerSecond < 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now, wait, ok, err := l.take(ctx, class, r)
	if err != nil {
		return err
	}
	if !ok {
		// Beyond the horizon: queue up in this Limiter (first come, first
		// served); the head of the queue alone asks the store again, when
		// the token it needs comes within the horizon, at the rate in force
		// then.
		a := &l.adapt[class&1]
		select {
		case a.poll <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		for !ok {
			if err = sleep(ctx, wait-reserveHorizon); err == nil {
				now, wait, ok, err = l.take(ctx, class, r)
			}
			if err != nil {
				<-a.poll
				return err
			}
		}
		<-a.poll
	}
	if wait <= 0 {
		return nil
	}
	return l.waitToken(ctx, class, r, now, wait)
}

// take asks the store for a token due within reserveHorizon and ctx's
// deadline. It returns ok false, with the wait the token would need, when
// that is beyond the horizon, and a *RateLimitError when it is beyond the
// deadline.
//
// The clock is read only when it is needed (a deadline, or a token that
// must be waited for), so that a token given at once costs one store call
// and nothing more.
func (l *Limiter) take(ctx context.Context, class Class, r backend.Rate) (now time.Time, wait time.Duration, ok bool, err error) {
	maxWait := time.Duration(math.MaxInt64)
	dl, hasDeadline := ctx.Deadline()
	if hasDeadline {
		now = l.clock.Now()
		maxWait = dl.Sub(now)
	}
	wait, ok, err = l.store.TakeToken(ctx, l.account, backend.Class(class), r, min(maxWait, reserveHorizon))
	if err != nil {
		return now, 0, false, err
	}
	if ok && wait <= 0 {
		return now, wait, true, nil
	}
	if !hasDeadline {
		now = l.clock.Now()
	}
	l.adapt[class&1].lastWait.Store(now.UnixNano())
	if !ok && wait > maxWait {
		return now, wait, false, &RateLimitError{Class: class, Cause: CauseLocalDeadline, Wait: wait}
	}
	return now, wait, ok, nil
}

// waitToken waits for the token granted at now with wait, giving it back if
// ctx ends first.
func (l *Limiter) waitToken(ctx context.Context, class Class, r backend.Rate, now time.Time, wait time.Duration) error {
	a := &l.adapt[class&1]
	if f := a.load(); f < 1 && r.PerSecond > 0 {
		// Slowed down: send at a random point of the token's interval, so
		// that processes sharing the account without sharing a store do not
		// send in lock-step with Twilio's bucket, and 20429s fall on each in
		// proportion to its rate. The rate is unchanged.
		wait += time.Duration(rand.Float64() * float64(time.Second) / (r.PerSecond * f))
	}
	for due := now.Add(wait).UnixNano(); ; {
		if last := a.lastSend.Load(); due <= last || a.lastSend.CompareAndSwap(last, due) {
			break
		}
	}
	if err := sleep(ctx, wait); err != nil {
		bound := returnTimeout
		if errors.Is(context.Cause(ctx), ErrClosed) {
			bound = closedReturnWait
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
		defer cancel()
		_ = l.store.ReturnToken(rctx, l.account, backend.Class(class), r) // best effort: the wait has ended anyway
		return err
	}
	return nil
}

// sleep waits for d or until ctx ends, returning ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// decision is a factor change decided under the lock and made in the store
// after it is released.
type decision struct {
	from, to float64
	cut      bool    // a slow-down, not a probe
	ceiling  float64 // for a cut: the factor throttled at
}

// Throttled reports a 20429 for a request of class that the bucket allowed.
// It may lower the store's factor (see [Limiter]), with one store call
// bounded by ctx; it is not called under any lock.
func (l *Limiter) Throttled(ctx context.Context, class Class) { l.observe(ctx, class, true) }

// Succeeded reports a request of class that Twilio accepted. Once per probe
// interval, while the bucket makes callers wait, it probes the factor up by
// one step with one store call bounded by ctx (which also picks up a factor
// another Limiter of the store changed); otherwise it only counts.
func (l *Limiter) Succeeded(ctx context.Context, class Class) { l.observe(ctx, class, false) }

// observe counts one answer of class (a 20429 when throttled) and applies
// the cut or probe it decides, outside the lock.
func (l *Limiter) observe(ctx context.Context, class Class, throttled bool) {
	if l.store == nil || l.rates[class&1].PerSecond < 0 {
		return
	}
	a := &l.adapt[class&1]
	now := l.clock.Now().UnixNano()
	a.mu.Lock()
	if now < a.settle {
		a.mu.Unlock()
		return // sent at the rate before the last change
	}
	a.roll(now)
	var d decision
	var ok bool
	if throttled {
		a.thr++
		d, ok = a.decideCut(now)
	} else {
		a.ok++
		d, ok = a.decideProbe(now)
	}
	if ok {
		a.busy = true
	}
	a.mu.Unlock()
	if ok {
		l.apply(ctx, class, now, d)
	}
}

// roll starts a new measurement window when the current one is over;
// requires a.mu held.
func (a *adaptState) roll(now int64) {
	switch age := now - a.winStart; {
	case age >= 2*int64(measureWindow):
		a.pOK, a.pThr, a.ok, a.thr, a.winStart = 0, 0, 0, 0, now
	case age >= int64(measureWindow):
		a.pOK, a.pThr, a.ok, a.thr, a.winStart = a.ok, a.thr, 0, 0, now
	}
}

// decideCut decides the slow-down for a 20429; requires a.mu held.
func (a *adaptState) decideCut(now int64) (decision, bool) {
	if a.busy {
		return decision{}, false
	}
	f := a.load()
	ok, n := a.ok+a.pOK, a.ok+a.pOK+a.thr+a.pThr
	measured := 1.0
	if n >= minSamples {
		measured = float64(ok) / float64(n)
	}
	if a.probing && measured >= decreaseFactor {
		// The probe ran into the quota: back to the last rate that passed.
		return decision{from: f, to: max(min(a.good*(1-margin), f*probeBackoff), minFactor), cut: true, ceiling: f}, true
	}
	if measured < decreaseFactor {
		// What Twilio accepted of what was sent: the ceiling, measured.
		// At most halved per decision: a small sample (the first burst,
		// one unlucky second) does not throw the rate far down at once.
		measured = max(measured, 0.5)
		return decision{from: f, to: max(f*measured*(1-margin), minFactor), cut: true, ceiling: f * measured}, true
	}
	if n < minSamples && a.lastChange != 0 && now-a.settle < int64(measureWindow) {
		// Right after a change: measure before cutting again.
		return decision{}, false
	}
	return decision{from: f, to: max(f*decreaseFactor, minFactor), cut: true, ceiling: f}, true
}

// decideProbe decides a probe (or a refresh of the factor from the store);
// requires a.mu held.
func (a *adaptState) decideProbe(now int64) (decision, bool) {
	if a.busy || now < a.nextProbe || now-a.lastWait.Load() > int64(2*recoveryInterval) || a.thr+a.pThr > 0 {
		return decision{}, false
	}
	f := a.load()
	if a.probing && a.ceiling > 0 && f > a.ceiling*1.05 {
		// The probe passed well beyond the last ceiling: the quota grew.
		a.ceiling, a.every = 0, recoveryInterval
	}
	step := increaseStep
	if a.ceiling > 0 && f+step > probeShare*a.ceiling {
		// Inversely proportional to the factor: a process with a small
		// share of an account it does not coordinate on probes faster than
		// one with a large share, so shares even out.
		step = probeStep * min(max(0.25/f, 0.5), 4)
	}
	return decision{from: f, to: min(f+step, 1)}, true
}

// apply makes d in the store and records the outcome. It is called without
// a.mu held, with a.busy set, which it clears.
func (l *Limiter) apply(ctx context.Context, class Class, now int64, d decision) {
	a := &l.adapt[class&1]
	var (
		cur float64
		err error
	)
	if d.from == d.to {
		cur, err = l.store.RateFactor(ctx, l.account, backend.Class(class))
	} else {
		cur, err = l.store.AdjustRateFactor(ctx, l.account, backend.Class(class), d.from, d.to, factorTTL)
	}
	a.mu.Lock()
	a.busy = false
	if err != nil {
		a.mu.Unlock()
		return
	}
	settled := !a.probing && a.lastChange != 0 && !d.cut
	a.factor.Store(math.Float64bits(cur))
	jitter := time.Duration(float64(a.every) * rand.Float64() / 2)
	switch {
	case d.cut:
		switch {
		case a.ceiling > 0 && math.Abs(d.ceiling-a.ceiling) <= 0.1*a.ceiling:
			a.every = min(2*a.every, maxProbeInterval) // throttled at the same rate again: probe slower
		case a.ceiling == 0 || d.ceiling > 1.1*a.ceiling:
			a.every = recoveryInterval // a new ceiling above the old one: the quota grew
		}
		a.ceiling = min(d.ceiling, 1)
		a.probing = false
		a.changed(now)
		a.nextProbe = a.settle + int64(a.every+jitter)
	case math.Abs(cur-d.to) <= backend.FactorTolerance && d.to != d.from:
		a.probing, a.good = true, d.from
		a.changed(now)
		a.nextProbe = a.settle + int64(a.every+jitter)
	default:
		// Another Limiter changed the factor: adopt it and probe from there.
		a.probing = false
		a.nextProbe = now + int64(recoveryInterval+jitter)
	}
	msg := ""
	if settled && l.log != nil {
		switch est := d.from; {
		case est < logShare && (a.logged == 0 || math.Abs(est-a.logged) > 0.25*a.logged):
			a.logged = est
			r := l.rates[class&1].PerSecond
			msg = fmt.Sprintf("quota: the account appears to allow %.1f %ss/s, configured %g", r*est, class, r)
		case est >= logShare:
			a.logged = 0
		}
	}
	a.mu.Unlock()
	if msg != "" {
		r := l.rates[class&1].PerSecond
		l.log.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("class", class.String()),
			slog.Float64("estimate", r*d.from), slog.Float64("configured", r), slog.Float64("factor", d.from))
	}
}

// healTime bounds how long a factor f left in the store by a Limiter that
// is gone (a restart, a scale-in) lasts while another Limiter of the store
// sends requests that wait for tokens: one probe interval to read the
// store, then one per increaseStep, each at most 1.5 × recoveryInterval.
// Without requests the factor lasts factorTTL. healTime(1) is 0.
func healTime(f float64) time.Duration {
	if f >= 1 {
		return 0
	}
	steps := math.Ceil((1-f)/increaseStep - 1e-9)
	return time.Duration((1 + steps) * 1.5 * float64(recoveryInterval))
}

// changed starts a new measurement after a factor change at now; requires
// a.mu held. Requests granted before the change go out at the old rate until
// the latest of them is sent: their answers, up to decisionGap after that,
// are not counted.
func (a *adaptState) changed(now int64) {
	a.lastChange = now
	a.settle = max(now, a.lastSend.Load()) + int64(decisionGap)
	a.pOK, a.pThr, a.ok, a.thr, a.winStart = 0, 0, 0, 0, a.settle
}

// load returns the factor as last set or seen.
func (a *adaptState) load() float64 { return math.Float64frombits(a.factor.Load()) }

// Factor returns the adaptive factor of class as this Limiter last set or
// saw it: in (0, 1], 1 meaning the configured rate (and for a zero Limiter).
func (l *Limiter) Factor(class Class) float64 {
	if l.store == nil {
		return 1
	}
	return l.adapt[class&1].load()
}

// Rate returns the configured ceiling of class.
func (l *Limiter) Rate(class Class) Rate { return Rate(l.rates[class&1]) }
