package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
)

//go:embed fair.lua
var fairTemplate string

// fairScript is fair.lua with rate.lua inside it (see fair.lua).
var fairScript = redis.NewScript(strings.Replace(fairTemplate, "-- RATE\n", rateSource+"\n", 1))

// markTTL is how long a taker of the critical or normal level makes the
// lower levels defer to it: a second's tokens.
const markTTL = time.Second

// tagTTL is how long a tenant's finish tag is kept after its last grant:
// a tenant idle that long starts again at the bucket's virtual time.
const tagTTL = 2 * time.Second

// TakeTokenAs implements [backend.FairStore]: TakeToken ordered by t's level
// and tenant across every process of the store (see fair.lua), in one round
// trip. While the store runs on its local share (FailLocal), it is
// TakeToken, with the lead maxWait.
func (s *Store) TakeTokenAs(ctx context.Context, account string, class backend.Class, r backend.Rate, maxWait time.Duration, t backend.Taker) (wait, lead time.Duration, ok bool, err error) {
	if r.PerSecond < 0 || math.IsInf(r.PerSecond, 1) {
		return 0, maxWait, true, nil // unlimited
	}
	if !(r.PerSecond > 0) {
		return 0, 0, false, fmt.Errorf("redisstore: TakeTokenAs: Rate.PerSecond %v: want a positive rate, or negative for unlimited", r.PerSecond)
	}
	w := t.Weight
	if !(w > 0) || math.IsInf(w, 1) {
		w = 1
	}
	type result struct {
		wait, lead time.Duration
		ok         bool
	}
	id := bucketID{account, class}
	res, err := do(s, ctx, "TakeTokenAs", func(ctx context.Context) (result, error) {
		horizon, gen := s.sched.last(id)
		c := s.rateCall(id, r)
		cl, lvl := class.String(), strconv.Itoa(int(t.Level))
		keys := []string{c.keys[0].(string), c.keys[1].(string), c.keys[2].(string), c.keys[3].(string),
			s.key(account, "mark", cl, "critical"), s.key(account, "mark", cl, "normal"),
			s.key(account, "vtime", cl, lvl), s.key(account, "tenant", cl, lvl, t.Tenant)}
		vals, err := fairScript.Run(ctx, s.rdb, keys, c.conf[0], c.conf[1], max(maxWait.Microseconds(), 0), horizon,
			c.conf[2], c.conf[3], gen, int(t.Level), strconv.FormatFloat(w, 'g', -1, 64),
			markTTL.Milliseconds(), tagTTL.Milliseconds()).Int64Slice()
		if err != nil {
			return result{}, err
		}
		if len(vals) != 7 {
			return result{}, fmt.Errorf("fair rate script replied %v", vals)
		}
		s.sawGrant(ctx, id, r, vals, gen)
		return result{time.Duration(vals[1]) * time.Microsecond, time.Duration(vals[6]) * time.Microsecond, vals[0] == 1}, nil
	}, func(fb *fallback) (result, error) {
		w, ok, err := fb.takeToken(ctx, id, r, maxWait)
		return result{w, maxWait, ok}, err
	}, nil)
	return res.wait, res.lead, res.ok, err
}
