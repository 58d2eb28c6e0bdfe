package video_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/video"
)

// TestAccountsEvictionSparesCallInProgress: a Client handed out by
// Accounts.Client is not evicted (and closed) while one of its calls is in
// progress, even one that waits for a rate token longer than the idle time
// and so holds no Room slot and has nothing on the wire.
func TestAccountsEvictionSparesCallInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			sid   = "AC0000000000000000000000000000000a"
			token = "0123456789abcdef0123456789abcdef"
		)
		// One read every 10 minutes: the second read of the account waits
		// far past the idle time.
		limits := quota.Limits{ReadsPerSecond: 1.0 / 600, ReadBurst: 1}
		st, err := memstore.New()
		if err != nil {
			t.Fatal(err)
		}
		a, err := video.NewAccounts(func(context.Context, string) (video.Account, error) {
			return video.Account{AuthToken: token, Limits: limits}, nil
		}, video.WithBaseURL("http://127.0.0.1:1"), video.WithStore(st), video.WithIdleEviction(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, err := a.Client(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		// Spend the account's one read token through the shared store, as
		// another call of the account would have.
		lim, err := quota.NewLimiter(st, sid, limits.WithDefaults())
		if err != nil {
			t.Fatal(err)
		}
		if err := lim.Wait(ctx, quota.Read); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.FetchRoom(ctx, "RM00000000000000000000000000000001")
			done <- err
		}()
		for range 5 { // five idle times, the read still waiting for its token
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		if n := a.Len(); n != 1 {
			t.Errorf("%d accounts alive with a call in progress, want 1", n)
		}
		cancel()
		err = <-done
		if errors.Is(err, video.ErrClosed) {
			t.Fatalf("the call was closed under its caller by eviction: %v", err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("call: %v, want context.Canceled", err)
		}
		// Once the call is over the account is idle and goes.
		for range 3 {
			time.Sleep(time.Minute)
			synctest.Wait()
		}
		if n := a.Len(); n != 0 {
			t.Fatalf("%d accounts alive after the call ended, want 0", n)
		}
	})
}
