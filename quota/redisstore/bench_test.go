package redisstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota/backend"
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
	r := backend.Rate{PerSecond: 1e9, Burst: 1000}
	for b.Loop() {
		if _, ok, err := s.TakeToken(ctx, "AC1", backend.Write, r, time.Second); err != nil || !ok {
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
			r := backend.Rate{PerSecond: 1e9, Burst: 1000}
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, ok, err := s.TakeToken(ctx, "AC1", backend.Write, r, time.Second); err != nil || !ok {
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
	bd := &backend.Bounds{Limit: 1_000_000, Levels: []float64{0.7}, Hysteresis: 1}
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("r%d", seq.Add(1))
			if _, err := s.Reserve(ctx, "AC1", backend.Rooms, key, bd, time.Minute); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Release(ctx, "AC1", backend.Rooms, key, bd); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkCluster is acquires and reserve+release pairs on a 3-master Redis
// Cluster (started by the benchmark on loopback) through go-redis's
// ClusterClient, with all the load on one account (one slot, one master) or
// spread over 1,000 accounts (an ISV's subaccounts, each with its own quota,
// over every master).
func BenchmarkCluster(b *testing.B) {
	cl := redistest.StartCluster(b, 3)
	rdb := cl.Client(b, func(o *redis.ClusterOptions) { o.PoolSize = 64 })
	s := newStore(b, rdb, redisstore.WithPrefix(redistest.Prefix(b)))
	ctx := context.Background()
	for _, accounts := range []int{1, 1000} {
		names := make([]string, accounts)
		for i := range names {
			names[i] = fmt.Sprintf("AC%032d", i)
		}
		b.Run(fmt.Sprintf("TakeToken/accounts=%d", accounts), func(b *testing.B) {
			r := backend.Rate{PerSecond: 1e9, Burst: 1000}
			var seq atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					acct := names[int(seq.Add(1))%accounts]
					if _, ok, err := s.TakeToken(ctx, acct, backend.Write, r, time.Second); err != nil || !ok {
						b.Error(ok, err)
						return
					}
				}
			})
			reportRate(b)
		})
		b.Run(fmt.Sprintf("ReserveRelease/accounts=%d", accounts), func(b *testing.B) {
			bd := &backend.Bounds{Limit: 1_000_000, Levels: []float64{0.7}, Hysteresis: 1}
			var seq atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					acct, key := names[int(n)%accounts], fmt.Sprintf("r%d", n)
					if _, err := s.Reserve(ctx, acct, backend.Rooms, key, bd, time.Minute); err != nil {
						b.Error(err)
						return
					}
					if _, err := s.Release(ctx, acct, backend.Rooms, key, bd); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
		})
	}
}

// BenchmarkAcquirePeer sets one uncontended token acquire of this store
// beside go-redis/redis_rate's Allow, its peer (one Lua script, one EVALSHA
// each), on one redis-server, in one run: alone (latency) and with 8
// callers (throughput). Both buckets are far from their limit, so each call
// is one grant.
func BenchmarkAcquirePeer(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.ClientWith(b, func(o *redis.Options) { o.PoolSize = 64 })
	s := newStore(b, rdb, redisstore.WithPrefix(redistest.Prefix(b)))
	peer := redis_rate.NewLimiter(rdb)
	ctx := context.Background()
	r := backend.Rate{PerSecond: 1e9, Burst: 1000}
	peerLimit := redis_rate.Limit{Rate: 1_000_000_000, Burst: 1000, Period: time.Second}
	ours := func(b *testing.B) {
		if _, ok, err := s.TakeToken(ctx, "AC1", backend.Write, r, time.Second); err != nil || !ok {
			b.Error(ok, err)
		}
	}
	theirs := func(b *testing.B) {
		if res, err := peer.Allow(ctx, "AC1", peerLimit); err != nil || res.Allowed != 1 {
			b.Error(res, err)
		}
	}
	for _, c := range []struct {
		name string
		op   func(*testing.B)
	}{{"redisstore", ours}, {"redis_rate", theirs}} {
		b.Run("callers=1/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.op(b)
			}
			reportRate(b)
		})
	}
	// Call by call, alternating, so that both see the same machine load;
	// each call is timed alone.
	b.Run("callers=1/interleaved", func(b *testing.B) {
		var tOurs, tTheirs time.Duration
		for b.Loop() {
			t0 := time.Now()
			ours(b)
			t1 := time.Now()
			theirs(b)
			t2 := time.Now()
			tOurs += t1.Sub(t0)
			tTheirs += t2.Sub(t1)
		}
		b.ReportMetric(float64(tOurs.Nanoseconds())/float64(b.N), "redisstore-ns/op")
		b.ReportMetric(float64(tTheirs.Nanoseconds())/float64(b.N), "redis_rate-ns/op")
		b.ReportMetric(float64(tOurs)/float64(tTheirs), "ratio")
	})
	for _, c := range []struct {
		name string
		op   func(*testing.B)
	}{{"redisstore", ours}, {"redis_rate", theirs}} {
		b.Run("callers=8/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(max(8/runtime.GOMAXPROCS(0), 1))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.op(b)
				}
			})
			reportRate(b)
		})
	}
}
