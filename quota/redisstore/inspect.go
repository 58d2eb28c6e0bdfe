package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
)

var (
	//go:embed inspect.lua
	inspectSource string
	inspectScript = redis.NewScript(inspectSource)
)

// Tokens implements [backend.Inspector]: it reads the GCRA bucket that
// TakeToken keeps, on Redis server time, in one read-only script. While
// degraded under [FailLocal] it reports the local share's bucket.
func (s *Store) Tokens(ctx context.Context, account string, class backend.Class, r backend.Rate) (float64, error) {
	if r.PerSecond < 0 || math.IsInf(r.PerSecond, 1) {
		return math.Inf(1), nil // unlimited
	}
	if !(r.PerSecond > 0) {
		return 0, fmt.Errorf("redisstore: Tokens: Rate.PerSecond %v: want a positive rate, or negative for unlimited", r.PerSecond)
	}
	return do(s, ctx, "Tokens", func(ctx context.Context) (float64, error) {
		keys := []string{s.key(account, "rate", class.String()), s.key(account, "factor", class.String()), s.key(account, "calm")}
		v, err := inspectScript.Run(ctx, s.rdb, keys, "tokens",
			strconv.FormatFloat(r.PerSecond, 'g', -1, 64), max(r.Burst, 1)).Text()
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("inspect script replied %q", v)
		}
		return f, nil
	}, func(fb *fallback) (float64, error) {
		return fb.tokens(ctx, bucketID{account, class}, r)
	}, nil)
}

// Pending implements [backend.Inspector]: the reservations of every process
// sharing the ledger that have not lapsed by Redis server time, read without
// changing the ledger. While degraded under [FailLocal] it reports the local
// share's.
func (s *Store) Pending(ctx context.Context, account string, res backend.Resource) (int, error) {
	return do(s, ctx, "Pending", func(ctx context.Context) (int, error) {
		n, err := inspectScript.Run(ctx, s.rdb, []string{s.key(account, res.String(), "pending")}, "pending").Int64()
		return int(n), err
	}, func(fb *fallback) (int, error) {
		return fb.local.Pending(ctx, account, res)
	}, nil)
}

var _ backend.Inspector = (*Store)(nil)
