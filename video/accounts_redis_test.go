package video_test

import (
	"context"
	"errors"
	"fmt"
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

// TestAccountsSharedRedis: two Accounts (two processes' worth: each its
// own Redis connection and store) on one Redis keep each subaccount's
// concurrency exact (a subaccount with a quota of 5 Rooms gets 5 of 12
// attempts made from both, the other 7 refused locally) and its write rate
// within Twilio's (no 429 from the server while both flood it).
func TestAccountsSharedRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	rs := redistest.Start(t)
	srv := videotest.NewServer(videotest.Options{CallbackLogSize: -1, RequestLogSize: -1})
	t.Cleanup(srv.Close)
	subs := subaccounts(t, srv, 2)
	small, busy := subs[0], subs[1]
	if err := small.SetLimits(videotest.Limits{ConcurrentRooms: 5}); err != nil {
		t.Fatal(err)
	}
	l := &emulatorLookup{srv: srv, limits: map[string]quota.Limits{small.AccountSID(): {ConcurrentRooms: 5}}}
	var procs [2]*video.Accounts
	for i := range procs {
		st, err := redisstore.New(rs.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		procs[i] = newAccounts(t, srv, l, video.WithStore(st))
	}
	ctx := context.Background()
	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := procs[i%2].Client(ctx, small.AccountSID())
			if err == nil {
				_, err = c.CreateRoom(ctx, room(fmt.Sprintf("r%d", i)))
			}
			var ee *quota.ExceededError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ee) && ee.Source == quota.SourceLocal:
				refused.Add(1)
			default:
				other.Add(1)
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 7 || small.Stats().RoomsCreated != 5 {
		t.Fatalf("%d created, %d refused locally, %d other; the emulator created %d: want 5, 7, 0, 5",
			ok.Load(), refused.Load(), other.Load(), small.Stats().RoomsCreated)
	}

	// Both flood the busy subaccount's writes for two seconds.
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fctx.Err() == nil {
				c, err := procs[i%2].Client(fctx, busy.AccountSID())
				if err != nil {
					return
				}
				_, _ = c.CreateRoom(fctx, room(""))
			}
		}()
	}
	wg.Wait()
	st := busy.Stats()
	if st.Throttled != 0 || st.RoomsCreated < 20 {
		t.Fatalf("busy subaccount: %d Rooms, %d 429s from the server: want at least 20 and none", st.RoomsCreated, st.Throttled)
	}
	t.Logf("busy subaccount: %d Rooms in 2 s from two Accounts, 0 429s", st.RoomsCreated)
}
