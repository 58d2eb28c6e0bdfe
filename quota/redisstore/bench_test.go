package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// benchStore returns a store on a client with a pool large enough for the
// parallel benchmarks.
func benchStore(b *testing.B) *redisstore.Store {
	b.Helper()
	srv := redistest.Start(b)
	rdb := srv.ClientWith(b, func(o *redis.Options) { o.PoolSize = 64 })
	return newStore(b, rdb, redisstore.WithPrefix(redistest.Prefix(b)))
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkTakeToken is the latency of one acquire: one round trip, one at a time.
func BenchmarkTakeToken(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	r := quota.Rate{PerSecond: 1e9, Burst: 1000}
	for b.Loop() {
		if _, ok, err := s.TakeToken(ctx, "AC1", quota.Write, r, time.Second); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	reportRate(b)
}

// BenchmarkTakeTokenParallel is the throughput of acquires on one account's
// bucket from one process with many goroutines (as many requests in flight).
func BenchmarkTakeTokenParallel(b *testing.B) {
	for _, par := range []int{4, 16} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", par), func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			r := quota.Rate{PerSecond: 1e9, Burst: 1000}
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok, err := s.TakeToken(ctx, "AC1", quota.Write, r, time.Second); err != nil || !ok {
						b.Error(ok, err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}

// BenchmarkReserveRelease is a slot's round trip: Reserve then Release, in parallel.
func BenchmarkReserveRelease(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	bd := &quota.Bounds{Limit: 1_000_000, Levels: []float64{0.7}, Hysteresis: 1}
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("r%d", seq.Add(1))
			if _, err := s.Reserve(ctx, "AC1", quota.Rooms, key, bd, time.Minute); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Release(ctx, "AC1", quota.Rooms, key, bd); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
