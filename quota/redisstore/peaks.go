package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
)

var (
	//go:embed peak.lua
	peakSource string
	peakScript = redis.NewScript(peakSource)
)

// peakKey is the record of one hour: a hash with the fields "rooms" and
// "participants", hash-tagged by account like every key of the account.
func (s *Store) peakKey(account string, unixHour int64) string {
	return s.key(account, "peak", strconv.FormatInt(unixHour, 10))
}

// RecordPeak implements [backend.PeakRecorder]: one small key per hour,
// raised with a max-update script (the higher of two processes' figures
// stays) and expiring at keepUntil. While Redis is unreachable it returns
// an *[UnavailableError]; the caller keeps its own figure meanwhile.
func (s *Store) RecordPeak(ctx context.Context, account string, res backend.Resource, hour time.Time, used int, keepUntil time.Time) (int, error) {
	if res > backend.Participants {
		return 0, fmt.Errorf("redisstore: RecordPeak: unknown resource %v", res)
	}
	return do(s, ctx, "RecordPeak", func(ctx context.Context) (int, error) {
		n, err := peakScript.Run(ctx, s.rdb, []string{s.peakKey(account, hour.Unix()/3600)},
			res.String(), used, keepUntil.UnixMilli()).Int64()
		return int(n), err
	}, nil, nil)
}

// Peaks implements [backend.PeakRecorder]: one pipelined HMGET per hour of
// the span.
func (s *Store) Peaks(ctx context.Context, account string, from, to time.Time) ([]backend.HourPeak, error) {
	a, b := from.Unix()/3600, to.Unix()/3600
	if b-a >= backend.MaxPeakHours {
		return nil, fmt.Errorf("redisstore: Peaks: %d hours, at most %d", b-a+1, backend.MaxPeakHours)
	}
	if b < a {
		return nil, nil
	}
	return do(s, ctx, "Peaks", func(ctx context.Context) ([]backend.HourPeak, error) {
		cmds := make([]*redis.SliceCmd, 0, b-a+1)
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for h := a; h <= b; h++ {
				cmds = append(cmds, p.HMGet(ctx, s.peakKey(account, h), "rooms", "participants"))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var out []backend.HourPeak
		for i, c := range cmds {
			v := c.Val()
			if len(v) != 2 || (v[0] == nil && v[1] == nil) {
				continue
			}
			out = append(out, backend.HourPeak{Hour: time.Unix((a+int64(i))*3600, 0).UTC(), Rooms: atoi(v[0]), Participants: atoi(v[1])})
		}
		return out, nil
	}, nil, nil)
}

// atoi reads a hash field HMGET returned (a string or nil) as an int.
func atoi(v any) int {
	s, _ := v.(string)
	n, _ := strconv.Atoi(s)
	return n
}

var _ backend.PeakRecorder = (*Store)(nil)
