package video_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestAccountsCloseEndsPollAlertsOnHungRedis: Accounts.PollAlerts visits
// two subaccounts with a Room each, on a Redis store whose deadline is a
// minute, when Redis hangs (SIGSTOP) with the loop's store reads in flight.
// Close ends the loop with ErrClosed at once, not after the store's
// deadline, and nothing is left running (TestMain's goleak).
func TestAccountsCloseEndsPollAlertsOnHungRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	rs, st, sent := pausableStore(t)
	srv := videotest.NewServer(videotest.Options{WritesPerSecond: -1, ReadsPerSecond: -1})
	t.Cleanup(srv.Close)
	subs := subaccounts(t, srv, 2)
	l := &emulatorLookup{srv: srv, limits: map[string]quota.Limits{}}
	a := newAccounts(t, srv, l, video.WithStore(st))
	ctx := context.Background()
	for _, s := range subs {
		c, err := a.Client(ctx, s.AccountSID())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRoom(ctx, room("busy")); err != nil {
			t.Fatal(err)
		}
	}
	rs.Pause(t)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			rs.Resume(t)
		}
	})
	n := sent.Load()
	done := make(chan error, 1)
	go func() { done <- a.PollAlerts(ctx, 10*time.Millisecond) }()
	for sent.Load() == n { // the loop's first store read is on its way to Redis
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case err := <-done:
		if !errors.Is(err, video.ErrClosed) {
			t.Errorf("PollAlerts after Close: %v, want ErrClosed", err)
		}
		t.Logf("PollAlerts returned %v after Close", time.Since(start))
	case <-time.After(10 * time.Second): // the store's deadline is a minute
		t.Fatal("PollAlerts waiting on a hung Redis has not returned 10 s after Close")
	}
	select {
	case err := <-closed:
		t.Logf("Close returned %v (%v)", time.Since(start), err)
	case <-time.After(10 * time.Second):
		t.Fatal("Accounts.Close has not returned 10 s after it was called, Redis hung")
	}
	rs.Resume(t)
	resumed = true
}
