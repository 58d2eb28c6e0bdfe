package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// TestCloseLeavesNoGoroutine: Close while operations of every kind wait on a
// hung Redis returns them with ErrClosed, and once they have returned no
// goroutine of the store is left running, though Redis is still hung: not
// the round trips the store had started (its Redis client is closed by Close
// when the store owns it, or honours the ctx when built with
// ContextTimeoutEnabled: skipped, see there), not the flusher of queued writes, not a
// give-back of a reservation applied late.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	srv := redistest.Start(t)
	if !srv.Own() {
		t.Skip("needs a redis-server of its own to pause")
	}
	for _, tc := range []struct {
		name string
		open func(t *testing.T, opts ...redisstore.Option) *redisstore.Store
	}{
		{"NewFromURL", func(t *testing.T, opts ...redisstore.Option) *redisstore.Store {
			s, err := redisstore.NewFromURL(srv.URL, opts...)
			if err != nil {
				t.Fatalf("NewFromURL: %v", err)
			}
			return s
		}},
		{"New/ContextTimeoutEnabled", func(t *testing.T, opts ...redisstore.Option) *redisstore.Store {
			t.Skip("a round trip sent on a client the caller owns (New) keeps its goroutine blocked in go-redis's socket read after Close " +
				"until the read deadline go-redis set as the read began: the client's ReadTimeout (3 s by default), or the store's deadline " +
				"(WithTimeout, here a minute) if that is earlier, ContextTimeoutEnabled being set; go-redis v9 does not abort a read when its ctx " +
				"is cancelled, and the store cannot close a client, or the pooled connections, that the caller owns and may be using")
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = rdb.Close() })
			return newStore(t, rdb, opts...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			s := tc.open(t, redisstore.WithPrefix(redistest.Prefix(t)), redisstore.WithTimeout(time.Minute))
			if _, err := opMix(s, 0); err != nil { // the pool has a connection
				t.Fatal(err)
			}
			srv.Pause(t)
			resumed := false
			defer func() {
				if !resumed {
					srv.Resume(t)
				}
			}()
			const n = 10
			errs := make(chan error, n)
			for i := range n {
				go func() {
					_, err := opMix(s, i)
					errs <- err
				}()
			}
			waitWaiting(t, s, n)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for range n {
				if err := <-errs; !errors.Is(err, quota.ErrClosed) {
					t.Errorf("an operation waiting at Close: %v, want ErrClosed", err)
				}
			}
			// Redis is still hung: whatever of the store still runs waits on it.
			goleak.VerifyNone(t, before)
			srv.Resume(t)
			resumed = true
		})
	}
}
