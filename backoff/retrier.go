package backoff

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	cbackoff "github.com/cenkalti/backoff/v4"
)

// ErrBudgetExhausted is wrapped by the error [Retrier.Next] returns when the
// policy's [Budget] refuses a retry. The same error also wraps the last
// cause, so errors.As still finds it.
var ErrBudgetExhausted = errors.New("backoff: retry budget exhausted")

// MaxAttemptsError is returned by [Retrier.Next] when an outcome is
// retryable but the policy's retries are used up.
type MaxAttemptsError struct {
	Attempts int   // attempts made, the first one included
	Err      error // the last attempt's cause
}

// Error says how many attempts were made and why the last one failed.
func (e *MaxAttemptsError) Error() string {
	return "backoff: giving up after " + strconv.Itoa(e.Attempts) + " attempts: " + errString(e.Err)
}

// Unwrap returns the last cause.
func (e *MaxAttemptsError) Unwrap() error { return e.Err }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// Retrier is the retry state of one request. Make it with [Policy.Start],
// call [Retrier.Next] after each failed attempt and [Retrier.Succeeded]
// after a successful one. It is a small value that does not allocate; it is
// not safe for concurrent use (one Retrier per request). The zero Retrier
// behaves like one started from the zero [Policy] (defaults, no budget).
type Retrier struct {
	jitter        FullJitter
	maxRetries    int
	maxRetryAfter time.Duration
	budget        *Budget
	check         CheckRetry

	retries int    // retries granted so far
	cost    int    // budget tokens held by the last granted retry
	last    Reason // classification of the last outcome given to Next
	done    bool   // Succeeded was called
}

// Start returns the retry state for one request. It does not validate p;
// zero or invalid fields fall back to their defaults (see [Policy.Validate]).
func (p Policy) Start() Retrier {
	r := p.resolved()
	return Retrier{
		jitter:        FullJitter{Base: r.Base, Cap: r.Cap, Rand: r.Rand},
		maxRetries:    r.MaxRetries,
		maxRetryAfter: r.MaxRetryAfter,
		budget:        r.Budget,
		check:         r.CheckRetry,
	}
}

// Next is called after a failed attempt. It returns how long to wait before
// the next attempt (retry true), or:
//
//   - retry false and a nil error when the outcome is not retryable or the
//     policy is [NoRetry]: hand the outcome to the caller unchanged;
//   - a *[MaxAttemptsError] when the outcome is retryable but the retries
//     are used up;
//   - an error wrapping [ErrBudgetExhausted] and the cause when the
//     [Budget] refuses the retry.
//
// The wait is full jitter, rand*min(Cap, Base*2^n) for the n-th retry
// (n = 0 first). When the outcome carries a Retry-After, the wait is
// max(jittered, min(RetryAfter, MaxRetryAfter)): the server's word is a
// floor, capped so that no Retry-After parks a caller for long, and the
// jitter still spreads callers that were all told the same value. The
// caller should sleep with ctx (see [Sleep]) and, in videoquota, take a
// rate token again before the next attempt.
func (r *Retrier) Next(o Outcome) (wait time.Duration, retry bool, err error) {
	if r.check == nil { // the zero Retrier: behave like Policy{}.Start()
		*r = Policy{}.Start()
	}
	reason := r.check(o)
	r.last = reason
	if reason == ReasonNone || r.maxRetries < 0 {
		return 0, false, nil
	}
	if r.retries >= r.maxRetries {
		return 0, false, &MaxAttemptsError{Attempts: r.retries + 1, Err: o.cause()}
	}
	cost := reason.cost()
	if r.budget != nil && !r.budget.take(cost) {
		return 0, false, fmt.Errorf("%w after %d attempts: %w", ErrBudgetExhausted, r.retries+1, o.cause())
	}
	wait = r.jitter.Delay(r.retries)
	if ra := min(o.RetryAfter, r.maxRetryAfter); ra > wait {
		wait = ra
	}
	r.retries++
	r.cost = cost
	return wait, true, nil
}

// Succeeded records that the last attempt succeeded and refunds the
// [Budget]: the cost of the last retry if there was one, else
// [SuccessRefund]. Calls after the first do nothing.
func (r *Retrier) Succeeded() {
	if r.done {
		return
	}
	r.done = true
	if r.budget == nil {
		return
	}
	if r.retries > 0 {
		r.budget.refund(r.cost)
	} else {
		r.budget.refund(SuccessRefund)
	}
}

// Attempts returns the attempts made so far, assuming one was made before
// each call to Next: 1 plus the retries granted.
func (r *Retrier) Attempts() int { return r.retries + 1 }

// Retries returns the retries granted so far.
func (r *Retrier) Retries() int { return r.retries }

// LastReason returns the classification of the last outcome given to Next
// ([ReasonNone] before the first call).
func (r *Retrier) LastReason() Reason { return r.last }

// Sleep waits for d or until ctx is done, whichever comes first, and
// returns ctx.Err() in the latter case. When ctx's deadline would pass
// before d ends, it fails at once, without waiting, with an error matching
// context.DeadlineExceeded: sleeping only to fail would waste the caller's
// time. A d of zero or less returns at once (with ctx.Err() if ctx is
// already done).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("backoff: a %v wait would pass the context deadline: %w", d, context.DeadlineExceeded)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do runs op until it succeeds or p says stop, sleeping between attempts
// with [Sleep] so that cancelling ctx ends the wait at once.
//
// op reports each attempt's [Outcome] and a non-nil error when it failed; a
// nil error is success. When the Outcome's Err is nil, op's error takes its
// place, so a failure reported with StatusCode 0 counts as a network error.
// Wrap an error in cbackoff.Permanent to stop at once: Do returns the
// wrapped error. Do returns nil on success; op's error when the outcome is
// not retryable or p is [NoRetry]; the *[MaxAttemptsError] or
// [ErrBudgetExhausted] error from [Retrier.Next]; a *[PolicyError] when p is
// invalid; or, when ctx ends during a wait (or its deadline would pass
// before the wait ends, see [Sleep]), an error wrapping both the context
// error and op's last error.
func Do(ctx context.Context, p Policy, op func(ctx context.Context) (Outcome, error)) error {
	if err := p.Validate(); err != nil {
		return err
	}
	r := p.Start()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := op(ctx)
		if err == nil {
			r.Succeeded()
			return nil
		}
		if perm, ok := errors.AsType[*cbackoff.PermanentError](err); ok {
			return perm.Err
		}
		if o.Err == nil {
			o.Err = err
		}
		wait, retry, nerr := r.Next(o)
		if nerr != nil {
			return nerr
		}
		if !retry {
			return err
		}
		if serr := Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("backoff: %w while waiting %v to retry after: %w", serr, wait, err)
		}
	}
}
