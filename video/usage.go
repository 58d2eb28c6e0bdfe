package video

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/video/internal/sched"
)

// stats are a Client's counters, updated without locks.
type stats struct {
	class [2]classStats
	res   [2]resStats
}

type classStats struct {
	requests, retries, throttled, refused atomic.Int64
	episode                               throttleEpisode // metrics.go
}

type resStats struct {
	refused, twilioRefused atomic.Int64
}

// usageTimeout bounds the store reads of [Client.Usage].
const usageTimeout = time.Second

// Usage returns a snapshot of the Client's quota: slots used and pending per
// resource (from the store, so shared with the store's other clients), the
// rate, adaptive factor, estimated real rate and tokens available per class, and this Client's
// counters of requests, retries, 429s and refusals. The store is read with a
// one-second bound; a figure the store could not report reads as zero, and so
// do pending slots and tokens when the store does not implement
// [backend.Inspector].
//
// Each resource's Forecast is when its quota would be reached at the usage
// trend the Client has observed (its own ledger operations, these reads,
// and the samples of [WithForecast]); see [forecast.Forecast].
func (c *Client) Usage() quota.Usage {
	ctx, cancel := context.WithTimeout(context.Background(), usageTimeout)
	defer cancel()
	return c.usage(ctx, c.now())
}

// usage is Usage with its bound ctx and its time now.
func (c *Client) usage(ctx context.Context, now time.Time) quota.Usage {
	in, _ := c.store.(backend.Inspector)
	var u quota.Usage
	for _, r := range [...]quota.Resource{quota.Rooms, quota.Participants} {
		var ru quota.ResourceUsage
		var err error
		ru.Used, ru.Full, err = c.ledger.Used(ctx, r)
		ru.Limit = c.ledger.Limit(r) // in force, as Used learnt it
		if err == nil {
			c.status.observe(ctx, r, ru.Used, now)
		}
		ru.Forecast = c.status.trend[r].Forecast(now, ru.Limit)
		if in != nil {
			if n, err := in.Pending(ctx, c.accountSID, backend.Resource(r)); err == nil {
				ru.Pending = n
			}
		}
		if r == quota.Rooms {
			u.Rooms = ru
		} else {
			u.Participants = ru
		}
		u.LocalRefusals += c.stats.res[r].refused.Load()
		u.TwilioRefusals += c.stats.res[r].twilioRefused.Load()
	}
	for _, cl := range [...]quota.Class{quota.Read, quota.Write} {
		cs := &c.stats.class[cl]
		cu := quota.ClassUsage{Rate: c.limiter.Rate(cl), Factor: c.limiter.Factor(cl), Requests: cs.requests.Load()}
		if f, err := c.store.RateFactor(ctx, c.accountSID, backend.Class(cl)); err == nil {
			cu.Factor = f // the shared factor, which other clients of the store may have changed
		}
		cu.Estimate = cu.Rate.PerSecond * cu.Factor
		if cu.Rate.PerSecond < 0 {
			cu.Estimate = cu.Rate.PerSecond
		}
		if in != nil && cu.Rate.PerSecond >= 0 {
			if n, err := in.Tokens(ctx, c.accountSID, backend.Class(cl), backend.Rate(cu.Rate)); err == nil && !math.IsInf(n, 0) {
				cu.Tokens = n
			}
		}
		c.waitUsage(cl, &cu)
		if cl == quota.Read {
			u.Reads = cu
		} else {
			u.Writes = cu
		}
		u.Retries += cs.retries.Load()
		u.Throttled += cs.throttled.Load()
		u.LocalRefusals += cs.refused.Load()
	}
	return u
}

// TopTenants is how many tenants [Client.Usage] and the metrics name, the
// ones whose callers waited most; the others are summed as "other".
const TopTenants = 10

// waitUsage fills cu's waits by priority level and by tenant.
func (c *Client) waitUsage(cl quota.Class, cu *quota.ClassUsage) {
	s := c.sched[cl&1]
	for p := range sched.Levels {
		cu.Priorities[p] = waitUsageOf(sched.Priority(p).String(), s.Stats(sched.Priority(p)))
	}
	for _, t := range s.TenantStats(TopTenants) {
		cu.Tenants = append(cu.Tenants, waitUsageOf(t.Tenant, t.Stats))
	}
}

func waitUsageOf(name string, st sched.Stats) quota.WaitUsage {
	return quota.WaitUsage{Name: name, Queued: st.Queued, Canceled: st.Canceled, Refused: st.Refused,
		Waited: st.Waited, Waiting: st.Waiting}
}
