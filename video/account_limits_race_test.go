package video_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestOneLimitPerAccountRacingAtStartup: two Clients of one account, each
// with a store of its own on one Redis (two processes), configured with 10
// Rooms and then with 5 (a deploy lowering the quota), both constructed
// before either makes a call; then 40 creates race through both at once.
// Both enforce the limits of the Client started last: no more than 5 Rooms
// are created, whichever Client's first offer reaches Redis first. Ten
// rounds, each on a fresh account.
func TestOneLimitPerAccountRacingAtStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	rs := redistest.Start(t)
	for round := range 10 {
		startupRace(t, rs, round)
	}
}

func startupRace(t *testing.T, rs *redistest.Server, round int) {
	prefix := redistest.Prefix(t) + fmt.Sprint(round)
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
	t.Cleanup(srv.Close)
	clients := make([]*video.Client, 2)
	for i, rooms := range []int{10, 5} {
		st, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		clients[i] = newClient(t, srv, video.WithStore(st),
			video.WithLimits(quota.Limits{ConcurrentRooms: rooms, ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	}
	var created, refused atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			<-start
			_, err := clients[i%2].CreateRoom(context.Background(), room(""))
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, quota.ErrExceeded):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := srv.Stats().RoomsNow; n > 5 {
		t.Errorf("round %d: %d Rooms created racing at startup (%d refused); the limit in force is 5 (the Client started last)", round, n, refused.Load())
	}
}
