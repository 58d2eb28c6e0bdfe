package quota

import (
	"context"
	"math"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// WaitAs is [Limiter.Wait] for the taker t (its priority level and tenant).
// With a store that orders takers across its clients ([backend.FairStore]),
// the store may let t book its token less far ahead than others (a higher
// level asked within the last second, or t's tenant took more than its
// share): t then asks again when its token comes within that lead, so that
// the takers the store puts first, in any process, book first. While t
// waits to ask again, yield (when not nil) is called in place of a sleep of
// d, so that the caller may let a caller of its own that comes first take a
// token meanwhile; t asks again when it returns, and an error from it ends
// the wait. With any other store it is Wait.
func (l *Limiter) WaitAs(ctx context.Context, class Class, t backend.Taker, yield func(ctx context.Context, d time.Duration) (bool, error)) error {
	fs, isFair := l.store.(backend.FairStore)
	if !isFair {
		return l.Wait(ctx, class)
	}
	r := l.rates[class&1]
	if r.PerSecond < 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now, wait, lead, ok, err := l.takeAs(ctx, fs, class, r, t)
	if err != nil {
		return err
	}
	if !ok {
		// As in Wait: the head of the Limiter's queue alone asks again,
		// when the token comes within the lead the store allowed.
		a := &l.adapt[class&1]
		select {
		case a.poll <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		for !ok {
			if yield != nil {
				// The poll is given up meanwhile: the caller yielded to
				// may be deferred too.
				<-a.poll
				if _, err := yield(ctx, wait-lead); err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				select {
				case a.poll <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
			} else if err = sleep(ctx, wait-lead); err != nil {
				<-a.poll
				return err
			}
			if now, wait, lead, ok, err = l.takeAs(ctx, fs, class, r, t); err != nil {
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

// takeAs is take through a FairStore: it also returns the lead the store
// allowed t.
func (l *Limiter) takeAs(ctx context.Context, fs backend.FairStore, class Class, r backend.Rate, t backend.Taker) (now time.Time, wait, lead time.Duration, ok bool, err error) {
	maxWait := time.Duration(math.MaxInt64)
	dl, hasDeadline := ctx.Deadline()
	if hasDeadline {
		now = l.clock.Now()
		maxWait = dl.Sub(now)
	}
	wait, lead, ok, err = fs.TakeTokenAs(ctx, l.account, backend.Class(class), r, min(maxWait, reserveHorizon), t)
	if err != nil {
		return now, 0, 0, false, err
	}
	if ok && wait <= 0 {
		return now, wait, lead, true, nil
	}
	if !hasDeadline {
		now = l.clock.Now()
	}
	l.adapt[class&1].lastWait.Store(now.UnixNano())
	if !ok && wait > maxWait {
		return now, wait, lead, false, &RateLimitError{Class: class, Cause: CauseLocalDeadline, Wait: wait}
	}
	return now, wait, lead, ok, nil
}
