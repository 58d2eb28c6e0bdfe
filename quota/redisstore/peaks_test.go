package redisstore_test

import (
	"context"
	"github.com/videoquota/videoquota/quota/backend"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/quota/storetest"
)

func TestPeaks(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(t), redisstore.WithPrefix(redistest.Prefix(t)))
	storetest.RunPeaks(t, s, "AC1")
}

// TestPeaksExpire: an hour's key expires at keepUntil, by Redis.
func TestPeaksExpire(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	prefix := redistest.Prefix(t)
	s := newStore(t, rdb, redisstore.WithPrefix(prefix))
	ctx := context.Background()
	hour := time.Now().UTC().Truncate(time.Hour)
	keep := time.Now().Add(90 * time.Minute)
	if _, err := s.RecordPeak(ctx, "AC1", backend.Rooms, hour, 4, keep); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, prefix+"*peak*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("peak keys %v, %v; want one", keys, err)
	}
	ttl, err := rdb.PTTL(ctx, keys[0]).Result()
	if err != nil || ttl <= 80*time.Minute || ttl > 90*time.Minute {
		t.Errorf("PTTL %v, %v; want about 90 minutes", ttl, err)
	}
}
