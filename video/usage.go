package video

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota"
)

// Usage is a snapshot of a Client's quota state and counters.
type Usage struct {
	Rooms        ResourceUsage
	Participants ResourceUsage
	Reads        ClassUsage
	Writes       ClassUsage
	// Err is the store's error if the ledger could not be read (a shared store
	// that is down); the ledger fields are then zero.
	Err error
}

// ResourceUsage is the state of one concurrency quota.
type ResourceUsage struct {
	Used    int  // held plus reserved slots
	Limit   int  // the quota (negative when unlimited)
	Full    bool // marked full after Twilio answered 53119/53206
	// Refused counts this Client's local refusals (*quota.ExceededError with
	// SourceLocal, no request sent).
	Refused uint64
	// TwilioRefused counts Twilio's 53119/53206 answers to this Client.
	TwilioRefused uint64
}

// ClassUsage is the state of one request class (reads or writes).
type ClassUsage struct {
	PerSecond float64 // the configured rate (negative when unlimited)
	Burst     int
	Factor    float64 // the adaptive factor: 1 = configured rate, lower = slowed after 20429s
	Requests  uint64  // HTTP requests sent, each attempt and page counted
	Retries   uint64  // attempts after the first
	Throttled uint64  // 429 answers received
	// LocalRefusals counts calls refused before sending because a token could
	// not come before the context's deadline.
	LocalRefusals uint64
}

// stats are a Client's counters, updated without locks.
type stats struct {
	class [2]classStats
	res   [2]resStats
}

type classStats struct {
	requests, retries, throttled, refused atomic.Uint64
}

type resStats struct {
	refused, twilioRefused atomic.Uint64
}

// Usage returns the Client's quota usage: slots used per resource, the rate
// and adaptive factor per class, and counters of requests, retries, 429s and
// local refusals. It reads the store with a one-second bound; a store error
// is returned in Usage.Err.
func (c *Client) Usage() Usage {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var u Usage
	for _, r := range [...]quota.Resource{quota.Rooms, quota.Participants} {
		ru := ResourceUsage{
			Limit:         c.ledger.Limit(r),
			Refused:       c.stats.res[r].refused.Load(),
			TwilioRefused: c.stats.res[r].twilioRefused.Load(),
		}
		used, full, err := c.ledger.Used(ctx, r)
		if err != nil && u.Err == nil {
			u.Err = err
		}
		ru.Used, ru.Full = used, full
		if r == quota.Rooms {
			u.Rooms = ru
		} else {
			u.Participants = ru
		}
	}
	for _, cl := range [...]quota.Class{quota.Read, quota.Write} {
		rate := c.limiter.Rate(cl)
		cu := ClassUsage{
			PerSecond:     rate.PerSecond,
			Burst:         rate.Burst,
			Factor:        c.limiter.Factor(cl),
			Requests:      c.stats.class[cl].requests.Load(),
			Retries:       c.stats.class[cl].retries.Load(),
			Throttled:     c.stats.class[cl].throttled.Load(),
			LocalRefusals: c.stats.class[cl].refused.Load(),
		}
		if cl == quota.Read {
			u.Reads = cu
		} else {
			u.Writes = cu
		}
	}
	return u
}
