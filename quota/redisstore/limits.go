package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
)

var (
	//go:embed limits.lua
	limitsSource string
	limitsScript = redis.NewScript(limitsSource)
)

// limitsSeen keeps the limits in force that Redis last returned per
// account, for the offers made while a [FailLocal] store is degraded.
type limitsSeen struct {
	mu  sync.Mutex
	m   map[string]backend.AccountLimits
	end map[string]time.Time // when each was to lapse, as last seen
}

// lastSeen returns the limits in force last seen for account and how long
// they had left then, counted from now (0 when none or lapsed).
func (l *limitsSeen) lastSeen(account string, now time.Time) (backend.AccountLimits, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[account]
	if !ok {
		return backend.AccountLimits{}, 0
	}
	return lim, max(l.end[account].Sub(now), 0)
}

// merge returns the later of the limits last seen for account and lim,
// by the rule of [backend.LimitsStore], and keeps it, lapsing at end, when
// keep is set.
func (l *limitsSeen) merge(account string, lim backend.AccountLimits, keep bool, end time.Time) backend.AccountLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.m[account]
	if !ok || lim.Since.After(cur.Since) || keep {
		cur = lim
	}
	if keep {
		if l.m == nil {
			l.m, l.end = make(map[string]backend.AccountLimits), make(map[string]time.Time)
		}
		l.m[account], l.end[account] = cur, end
	}
	return cur
}

// OfferLimits implements [backend.LimitsStore] with one script on a hash
// per account (its key in the account's hash slot). When Redis has lost
// the hash (a restart, a failover), the limits in force this store last saw
// there, if later than the offer, are put back first, lapsing when they
// were to lapse as last seen: a loss does not hand the account to the limits of
// a client started earlier. While a [FailLocal] store is degraded it
// returns the later of the offer and the limits in force it last saw in
// Redis.
func (s *Store) OfferLimits(ctx context.Context, account string, lim backend.AccountLimits, ttl time.Duration) (backend.AccountLimits, error) {
	since := lim.Since.UnixMicro()
	return do(s, ctx, "OfferLimits", func(ctx context.Context) (backend.AccountLimits, error) {
		args := []any{lim.Rooms, lim.Participants, since, millis(ttl)}
		if seen, left := s.limits.lastSeen(account, time.Now()); left > 0 && seen.Since.After(lim.Since) {
			// Put back, if Redis lost them, the later limits last seen in force.
			args = append(args, seen.Rooms, seen.Participants, seen.Since.UnixMicro(), max(millis(left), 1))
		}
		vals, err := limitsScript.Run(ctx, s.rdb, []string{s.key(account, "limits")}, args...).Int64Slice()
		if err != nil {
			return backend.AccountLimits{}, err
		}
		if len(vals) != 4 {
			return backend.AccountLimits{}, fmt.Errorf("limits script replied %v", vals)
		}
		in := backend.AccountLimits{Rooms: int(vals[0]), Participants: int(vals[1]), Since: time.UnixMicro(vals[2])}
		return s.limits.merge(account, in, true, time.Now().Add(time.Duration(vals[3])*time.Millisecond)), nil
	}, func(*fallback) (backend.AccountLimits, error) {
		return s.limits.merge(account, lim, false, time.Time{}), nil
	}, nil)
}

var _ backend.LimitsStore = (*Store)(nil)
