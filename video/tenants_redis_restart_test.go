package video_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestTenantsShareAfterRedisRestartedEmpty: two tenants flood writes
// through two Clients on one Redis store (each tenant on both Clients, at
// weights 1:1); Redis restarts empty in the middle, losing the fair-queue
// tags, the marks and the buckets. Afterwards the store goes on ordering
// them: each tenant gets between a third and two thirds of the writes sent
// after the restart, neither is starved by state left from before.
func TestTenantsShareAfterRedisRestartedEmpty(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server; runs 3 s of real time")
	}
	rs := redistest.Start(t)
	if !rs.Own() {
		t.Skip("needs a redis-server of its own to restart")
	}
	prefix := redistest.Prefix(t)
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: 20})
	t.Cleanup(srv.Close)
	clients := make([]*video.Client, 2)
	for i := range clients {
		st, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		clients[i] = newClient(t, srv, video.WithStore(st), video.WithLimits(quota.Limits{WritesPerSecond: 20, WriteBurst: 1}))
	}
	ctx, stop := context.WithCancel(context.Background())
	var after atomic.Bool
	var got [2]atomic.Int64
	var wg sync.WaitGroup
	for tn, name := range []string{"acme", "globex"} {
		tctx := video.WithTenant(ctx, name)
		for _, vq := range clients {
			for range 5 {
				wg.Go(func() {
					for tctx.Err() == nil {
						if _, err := vq.CreateRoom(tctx, room("")); err == nil && after.Load() {
							got[tn].Add(1)
						}
					}
				})
			}
		}
	}
	time.Sleep(time.Second)
	rs.Restart(t)
	after.Store(true)
	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()
	a, g := got[0].Load(), got[1].Load()
	t.Logf("after the restart: acme %d, globex %d creates", a, g)
	if total := a + g; total < 10 || a*3 < total || g*3 < total {
		t.Errorf("after Redis restarted empty: acme %d, globex %d creates; want each between a third and two thirds of at least 10", a, g)
	}
}
