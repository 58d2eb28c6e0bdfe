package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
)

// TestEndedBounds: the ended holdings of a ledger are one sorted set that
// keeps the newest maxEnded ends, forgets each after endedTTL on Redis
// server time, and expires as a key with its newest end.
func TestEndedBounds(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore(t, rdb, redisstore.WithPrefix(prefix))
	const ttl = 400 * time.Millisecond
	redisstore.SetEnded(s, ttl, 3)
	ctx := context.Background()
	const acct = "AC1"
	hold := func(k string) bool {
		t.Helper()
		c, err := s.Hold(ctx, acct, backend.Rooms, k, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c.Changed
	}
	for i := range 5 {
		k := fmt.Sprintf("RM%d", i)
		hold(k)
		if _, err := s.Release(ctx, acct, backend.Rooms, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	key := prefix + ":{" + acct + "}:rooms:ended"
	if n := rdb.ZCard(ctx, key).Val(); n != 3 {
		t.Errorf("%d ends kept, want the newest 3", n)
	}
	if pttl := rdb.PTTL(ctx, key).Val(); pttl <= 0 || pttl > ttl+time.Second {
		t.Errorf("ended set PTTL %v, want in (0, %v]", pttl, ttl+time.Second)
	}
	if !hold("RM0") {
		t.Error("RM0, past the 3 newest ends, is still ended")
	}
	if hold("RM4") {
		t.Error("RM4, the newest end, was held again")
	}
	time.Sleep(ttl + 100*time.Millisecond)
	if !hold("RM4") {
		t.Errorf("RM4 still ended %v after its end", ttl+100*time.Millisecond)
	}
}
