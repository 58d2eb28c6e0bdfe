package backoff

import "sync/atomic"

// Retry budget figures, after the AWS SDKs' retry quota (aws/retry:
// capacity 500, a retry costs 5, a timeout 10, a success without retry
// refunds 1).
const (
	// DefaultBudgetCapacity is the token capacity of [DefaultPolicy]'s budget.
	DefaultBudgetCapacity = 500
	// ThrottleRetryCost is what a retry after a 429/20429 takes. It is the
	// cheaper kind: Twilio never processed the request and asks to be retried
	// with backoff, so such a retry cannot duplicate work. It still costs, so
	// that a wholly throttled account stops retrying after
	// DefaultBudgetCapacity/ThrottleRetryCost = 100 retries without a success
	// in between, instead of multiplying its load by MaxRetries.
	ThrottleRetryCost = 5
	// RetryCost is what a retry after a 5xx or a network error takes, twice
	// a throttle retry: such failures point at an unhealthy path, where
	// retrying adds load, and the request may have been processed.
	RetryCost = 10
	// SuccessRefund is what a success on the first attempt gives back. A
	// success after retries gives back the cost of the last retry instead.
	SuccessRefund = 1
)

// Budget is a retry quota shared by many requests: a token bucket that
// retries drain and successes refill (never beyond its capacity). When an
// account is throttled as a whole, the budget runs dry and retries stop,
// so the retrier does not turn an outage into a retry storm; successes
// refill it and retries resume.
//
// Build it with [NewBudget]; a zero Budget has no capacity and
// [Policy.Validate] rejects it. A Budget is safe for concurrent use.
type Budget struct {
	capacity int64
	avail    atomic.Int64
}

// NewBudget returns a full budget of capacity tokens.
func NewBudget(capacity int) *Budget {
	if capacity < 0 {
		capacity = 0
	}
	b := &Budget{capacity: int64(capacity)}
	b.avail.Store(int64(capacity))
	return b
}

// Capacity returns the most tokens the budget holds.
func (b *Budget) Capacity() int { return int(b.capacity) }

// Available returns the tokens left now.
func (b *Budget) Available() int { return int(b.avail.Load()) }

// take removes cost tokens if that many are left.
func (b *Budget) take(cost int) bool {
	c := int64(cost)
	for {
		n := b.avail.Load()
		if n < c {
			return false
		}
		if b.avail.CompareAndSwap(n, n-c) {
			return true
		}
	}
}

// refund adds n tokens, up to the capacity.
func (b *Budget) refund(n int) {
	for {
		cur := b.avail.Load()
		next := cur + int64(n)
		if next > b.capacity {
			next = b.capacity
		}
		if next == cur || b.avail.CompareAndSwap(cur, next) {
			return
		}
	}
}
