package video_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestCloseEndsCreateWaitingOnHungRedis: a CreateRoom whose reservation
// waits on a hung Redis (a store deadline of a minute) returns
// quota.ErrClosed at once when the Client is closed, not after another wait
// on Redis.
func TestCloseEndsCreateWaitingOnHungRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	rs, st, sent := pausableStore(t)
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	vq := newClient(t, srv, video.WithStore(st))
	rs.Pause(t)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			rs.Resume(t)
		}
	})
	n := sent.Load()
	errs := make(chan error, 1)
	go func() { _, err := vq.CreateRoom(context.Background(), room("x")); errs <- err }()
	for sent.Load() == n { // the reservation is on its way to Redis
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := vq.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, quota.ErrClosed) {
			t.Errorf("CreateRoom waiting at Close: %v, want quota.ErrClosed", err)
		}
		t.Logf("CreateRoom returned %v after Close", time.Since(start))
	case <-time.After(time.Second): // generous for a loaded machine; the target is 100 ms
		t.Fatalf("CreateRoom waiting on a hung Redis has not returned 1s after Close")
	}
	// The give-back is not lost: once Redis answers, the store writes it
	// back (its queue) and the account holds no slot.
	rs.Resume(t)
	resumed = true
	deadline := time.Now().Add(5 * time.Second)
	for {
		used, _, err := st.Used(context.Background(), srv.AccountSID(), backend.Rooms)
		if err == nil && used == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after SIGCONT the store counts %d Rooms (err %v), want the reservation given back", used, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pausableStore returns a redis-server of the test's own (to pause), a
// store on it whose deadline is a minute (so that only Close can end a
// wait on it), and the count of commands sent to Redis.
func pausableStore(t *testing.T) (*redistest.Server, *redisstore.Store, *atomic.Int64) {
	t.Helper()
	rs := redistest.Start(t)
	if !rs.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	rdb := rs.Client(t)
	sent := new(atomic.Int64)
	rdb.AddHook(countHook{sent})
	st, err := redisstore.New(rdb, redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return rs, st, sent
}
