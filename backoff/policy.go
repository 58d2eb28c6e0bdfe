package backoff

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults used by [DefaultPolicy] and by a [Policy] whose fields are zero.
//
// twilio-node's opt-in auto-retry (the only retrier Twilio ships) waits
// rand*min(3 s, 100 ms*2^n) with n starting at 1, three times, so its first
// retry waits up to 200 ms and its retries cover at most 1.4 s. Twilio's Video
// quotas are per-second buckets (80 reads/s, 20 writes/s), so a throttled
// request usually gets through within the next second and the caller's rate
// limiter already paces it. The defaults therefore start lower and reach
// further:
//
//   - [DefaultBase] 50 ms: the first retry waits up to 50 ms (4x sooner than
//     twilio-node), which clears a short burst quickly.
//   - [DefaultCap] 2 s: one wait spans at most two quota windows, so no caller
//     stalls on a single 3 s sleep while the account has already recovered.
//   - [DefaultMaxRetries] 6: ceilings 50, 100, 200, 400, 800, 1600 ms, about
//     3.15 s of backoff in the worst case (about 1.6 s expected), more than
//     twice twilio-node's 1.4 s, so a throttle lasting a few seconds is ridden
//     out instead of surfacing as an error.
const (
	// DefaultBase is the full-jitter exponential base: retry n waits up to
	// Base*2^n (n = 0 for the first retry).
	DefaultBase = 50 * time.Millisecond
	// DefaultCap caps one jittered backoff.
	DefaultCap = 2 * time.Second
	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = 6
	// DefaultMaxRetryAfter caps a server's Retry-After. Twilio's Video quotas
	// are per second, so a longer Retry-After is unexpected; 10 s honours any
	// plausible one and never parks a caller for hours on a bogus value
	// (go-retryablehttp's users were once told to wait 484289h).
	DefaultMaxRetryAfter = 10 * time.Second
)

// NoRetries as [Policy.MaxRetries] switches retries off (see [NoRetry]).
const NoRetries = -1

// Policy decides whether and when a failed Twilio request is tried again.
//
// A zero field takes its default, so the zero Policy retries with the
// defaults and no [Budget]. A Policy is a value: copying it is cheap and
// copies share its Budget. Per-request state lives in a [Retrier] made by
// [Policy.Start]. A Policy is safe for concurrent use as long as nobody
// modifies it.
type Policy struct {
	// Base is the full-jitter exponential base (default DefaultBase).
	Base time.Duration
	// Cap caps one backoff (default DefaultCap); it must not be below Base.
	Cap time.Duration
	// MaxRetries is the number of retries after the first attempt (default
	// DefaultMaxRetries when 0). NoRetries (-1) switches retries off.
	MaxRetries int
	// MaxRetryAfter caps a server's Retry-After (default DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Budget is a retry budget shared by every request using the policy;
	// nil means none.
	Budget *Budget
	// CheckRetry classifies an attempt's outcome; nil means DefaultCheckRetry.
	CheckRetry CheckRetry
	// Rand returns a number in [0, 1) for the jitter; nil means math/rand/v2's
	// Float64. Tests set it for deterministic waits. It must be safe for
	// concurrent use when the policy is shared across goroutines.
	Rand func() float64
}

// DefaultPolicy returns the defaults (see [DefaultBase]) with a fresh
// [Budget] of [DefaultBudgetCapacity] tokens. Build it once per client and
// share it, so that all of the client's requests draw on the same budget.
func DefaultPolicy() Policy {
	return Policy{
		Base:          DefaultBase,
		Cap:           DefaultCap,
		MaxRetries:    DefaultMaxRetries,
		MaxRetryAfter: DefaultMaxRetryAfter,
		Budget:        NewBudget(DefaultBudgetCapacity),
		CheckRetry:    DefaultCheckRetry,
	}
}

// NoRetry returns the explicit off switch: a Policy whose [Retrier] never
// retries, so every outcome is returned to the caller as it is.
func NoRetry() Policy { return Policy{MaxRetries: NoRetries} }

// PolicyError reports an invalid [Policy] field.
type PolicyError struct {
	Field  string // the Policy field, e.g. "Cap"
	Reason string // what is wrong with it
}

// Error names the field and the problem.
func (e *PolicyError) Error() string {
	return "backoff: invalid Policy." + e.Field + ": " + e.Reason
}

// Validate reports the first invalid field as a *[PolicyError]. [Policy.Start]
// does not validate (it falls back to defaults); call Validate when a policy
// comes from configuration. [Do] validates.
func (p Policy) Validate() error {
	switch {
	case p.Base < 0:
		return &PolicyError{"Base", fmt.Sprintf("must not be negative (got %v)", p.Base)}
	case p.Cap < 0:
		return &PolicyError{"Cap", fmt.Sprintf("must not be negative (got %v)", p.Cap)}
	case p.MaxRetries < NoRetries:
		return &PolicyError{"MaxRetries", fmt.Sprintf("must be >= 0, or NoRetries (-1) to switch retries off (got %d)", p.MaxRetries)}
	case p.MaxRetryAfter < 0:
		return &PolicyError{"MaxRetryAfter", fmt.Sprintf("must not be negative (got %v)", p.MaxRetryAfter)}
	case p.Budget != nil && p.Budget.Capacity() <= 0:
		return &PolicyError{"Budget", "has no capacity (build it with NewBudget(n), n > 0; use NoRetry to switch retries off)"}
	}
	r := p.resolved()
	if r.Cap < r.Base {
		return &PolicyError{"Cap", fmt.Sprintf("%v is below Base %v", r.Cap, r.Base)}
	}
	return nil
}

// resolved returns p with its zero fields set to their defaults.
func (p Policy) resolved() Policy {
	if p.Base <= 0 {
		p.Base = DefaultBase
	}
	if p.Cap <= 0 {
		p.Cap = DefaultCap
	}
	if p.MaxRetries == 0 {
		p.MaxRetries = DefaultMaxRetries
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.CheckRetry == nil {
		p.CheckRetry = DefaultCheckRetry
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}
