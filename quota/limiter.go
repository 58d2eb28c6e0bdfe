package quota

import (
	"context"
	"time"
)

// Limiter paces one account's requests through two token buckets, one for
// reads and one for writes, kept in a [Store]. When Twilio answers 20429 for a
// request the bucket allowed (another application on the account, a real
// quota lower than configured), [Limiter.Throttled] slows the bucket down
// multiplicatively and [Limiter.Succeeded] lets it recover additively (AIMD),
// shared by every client of the store.
//
// A Limiter is safe for simultaneous use.
type Limiter struct {
	store   Store
	account string
	rates   [2]Rate
}

// NewLimiter returns a Limiter for account with the rates of limits
// (zero fields take Twilio's defaults).
func NewLimiter(store Store, account string, limits Limits) *Limiter {
	panic("not yet")
}

// Wait takes one token of class, waiting until it may be used. If ctx's
// deadline comes before the token, Wait takes nothing and returns at once a
// *RateLimitError with CauseLocalDeadline; if ctx ends while waiting it
// returns ctx.Err().
func (l *Limiter) Wait(ctx context.Context, class Class) error { panic("not yet") }

// Throttled reports a 20429 for a request of class that the bucket allowed.
func (l *Limiter) Throttled(class Class) { panic("not yet") }

// Succeeded reports a request of class that Twilio accepted. It is cheap: the
// rate recovers at most once per recovery interval.
func (l *Limiter) Succeeded(class Class) { panic("not yet") }

// Factor returns the current adaptive factor of class (1 = the configured rate).
func (l *Limiter) Factor(class Class) float64 { panic("not yet") }

// Rate returns the configured ceiling of class.
func (l *Limiter) Rate(class Class) Rate { return l.rates[class] }

var _ = time.Second
