package backoff

import (
	"math/rand/v2"
	"time"

	cbackoff "github.com/cenkalti/backoff/v4"
)

// FullJitter is full-jitter exponential backoff as a [cbackoff.BackOff]:
// the n-th call of NextBackOff (n = 0 first) returns rand*min(Cap, Base*2^n).
// It never returns [cbackoff.Stop]; bound it with cbackoff.WithMaxRetries, or
// use [Policy.BackOff], which does. A zero Base or Cap takes [DefaultBase] or
// [DefaultCap], and a nil Rand takes math/rand/v2's Float64.
//
// Like cbackoff.ExponentialBackOff it keeps state and is not safe for
// concurrent use: make one per operation.
type FullJitter struct {
	Base time.Duration
	Cap  time.Duration
	Rand func() float64

	n int // retries handed out since the last Reset
}

var _ cbackoff.BackOff = (*FullJitter)(nil)

// NextBackOff returns the next jittered wait and advances the retry count.
func (b *FullJitter) NextBackOff() time.Duration {
	d := b.Delay(b.n)
	b.n++
	return d
}

// Reset starts again from the first retry.
func (b *FullJitter) Reset() { b.n = 0 }

// Ceiling returns min(Cap, Base*2^retry), the upper bound of the wait before
// retry number retry (0 for the first retry). It does not overflow.
func (b *FullJitter) Ceiling(retry int) time.Duration {
	base, limit := b.Base, b.Cap
	if base <= 0 {
		base = DefaultBase
	}
	if limit <= 0 {
		limit = DefaultCap
	}
	if retry < 0 {
		retry = 0
	}
	if retry >= 63 {
		return limit
	}
	d := base << uint(retry)
	if d>>uint(retry) != base || d <= 0 || d > limit {
		return limit
	}
	return d
}

// Delay returns a jittered wait for retry number retry (0 for the first
// retry): Rand() * Ceiling(retry), with Rand clamped to [0, 1]. It does not
// change b.
func (b *FullJitter) Delay(retry int) time.Duration {
	f := rand.Float64
	if b.Rand != nil {
		f = b.Rand
	}
	x := f()
	if !(x > 0) { // also catches NaN
		return 0
	}
	c := b.Ceiling(retry)
	if x >= 1 {
		return c
	}
	if d := time.Duration(x * float64(c)); d >= 0 && d <= c {
		return d
	}
	return c // float rounding near the largest Duration

}

// BackOff returns a fresh [cbackoff.BackOff] for one operation with the
// policy's jitter and retry count, for use with cbackoff.Retry and
// cbackoff.RetryNotify. It knows nothing of Retry-After, the [Budget] or
// classification: wrap errors that must not be retried in cbackoff.Permanent.
// Callers that can see HTTP outcomes should prefer [Policy.Start] or [Do].
func (p Policy) BackOff() cbackoff.BackOff {
	r := p.resolved()
	max := r.MaxRetries
	if max < 0 {
		max = 0
	}
	return cbackoff.WithMaxRetries(&FullJitter{Base: r.Base, Cap: r.Cap, Rand: r.Rand}, uint64(max))
}
