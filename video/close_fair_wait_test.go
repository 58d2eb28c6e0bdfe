package video_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestCloseEndsFairQueueWaits: callers of every level and of several
// tenants wait for write tokens (1 a second, on a Redis store, so the
// store orders them) when the Client is closed, and Redis hangs meanwhile
// for half of the cases. Each returns ErrClosed at once, none is sent
// afterwards, and nothing is left running (TestMain's goleak).
func TestCloseEndsFairQueueWaits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	for _, hung := range []bool{false, true} {
		t.Run(fmt.Sprintf("hung=%v", hung), func(t *testing.T) {
			rs := redistest.Start(t)
			if hung && !rs.Own() {
				t.Skip("needs a redis-server of its own to pause")
			}
			st, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
			t.Cleanup(srv.Close)
			vq := newClient(t, srv, video.WithStore(st), video.WithLimits(quota.Limits{WritesPerSecond: 1, WriteBurst: 1}),
				video.WithTenantPolicy(func(string) video.TenantPolicy { return video.TenantPolicy{Weight: 2} }))
			ctx := context.Background()
			if _, err := vq.CreateRoom(ctx, room("")); err != nil { // the burst
				t.Fatal(err)
			}
			const callers = 12
			errs := make(chan error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				cctx := video.WithTenant(video.WithPriority(ctx, []video.Priority{video.PriorityCritical, video.PriorityNormal, video.PriorityBackground}[i%3]), fmt.Sprintf("t%d", i%4))
				wg.Go(func() { _, err := vq.CreateRoom(cctx, room("")); errs <- err })
			}
			waiting := func() int {
				n := 0
				for _, p := range []video.Priority{video.PriorityCritical, video.PriorityNormal, video.PriorityBackground} {
					n += vq.PriorityUsage(quota.Write, p).Waiting
				}
				return n
			}
			for waiting() < callers-1 { // one holds the turn, the rest queue
				time.Sleep(time.Millisecond)
			}
			if hung {
				rs.Pause(t)
				defer rs.Resume(t)
			}
			created := srv.Stats().RoomsCreated
			start := time.Now()
			if err := vq.Close(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second): // the store's deadline is a minute
				t.Fatal("callers waiting for tokens have not returned 10 s after Close")
			}
			took := time.Since(start)
			t.Logf("%d waiting callers returned %v after Close", callers, took)
			if took > 500*time.Millisecond { // at once: a token given back waits 50 ms at most; generous for a loaded machine
				t.Errorf("callers waiting for tokens returned %v after Close, want at once (the give-back of a booked token waits 50 ms at most)", took)
			}
			close(errs)
			for err := range errs {
				if err != nil && !errors.Is(err, video.ErrClosed) {
					t.Errorf("a waiting caller at Close: %v, want ErrClosed", err)
				}
			}
			if n := srv.Stats().RoomsCreated; n > created+1 {
				t.Errorf("%d creates sent after Close", n-created)
			}
		})
	}
}
