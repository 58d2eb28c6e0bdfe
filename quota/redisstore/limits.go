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
	mu sync.Mutex
	m  map[string]backend.AccountLimits
}

// merge returns the later of the limits last seen for account and lim,
// by the rule of [backend.LimitsStore], and keeps it when keep is set.
func (l *limitsSeen) merge(account string, lim backend.AccountLimits, keep bool) backend.AccountLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.m[account]
	if !ok || lim.Since.After(cur.Since) || keep {
		cur = lim
	}
	if keep {
		if l.m == nil {
			l.m = make(map[string]backend.AccountLimits)
		}
		l.m[account] = cur
	}
	return cur
}

// OfferLimits implements [backend.LimitsStore] with one script on a hash
// per account (its key in the account's hash slot). While a [FailLocal]
// store is degraded it returns the later of the offer and the limits in
// force it last saw in Redis.
func (s *Store) OfferLimits(ctx context.Context, account string, lim backend.AccountLimits, ttl time.Duration) (backend.AccountLimits, error) {
	since := lim.Since.UnixMicro()
	return do(s, ctx, "OfferLimits", func(ctx context.Context) (backend.AccountLimits, error) {
		vals, err := limitsScript.Run(ctx, s.rdb, []string{s.key(account, "limits")}, lim.Rooms, lim.Participants, since, millis(ttl)).Int64Slice()
		if err != nil {
			return backend.AccountLimits{}, err
		}
		if len(vals) != 3 {
			return backend.AccountLimits{}, fmt.Errorf("limits script replied %v", vals)
		}
		in := backend.AccountLimits{Rooms: int(vals[0]), Participants: int(vals[1]), Since: time.UnixMicro(vals[2])}
		return s.limits.merge(account, in, true), nil
	}, func(*fallback) (backend.AccountLimits, error) {
		return s.limits.merge(account, lim, false), nil
	}, nil)
}

var _ backend.LimitsStore = (*Store)(nil)
