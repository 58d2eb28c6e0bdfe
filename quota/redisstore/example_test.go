package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/redisstore"
)

// Four replicas share one account's quota through one Redis; while Redis is
// unreachable each keeps to a quarter of it.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	store, err := redisstore.New(rdb,
		redisstore.WithPrefix("myapp"),
		redisstore.WithFailurePolicy(redisstore.FailLocal),
		redisstore.WithLocalShare(1.0/4),
		redisstore.WithTimeout(250*time.Millisecond),
		redisstore.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	b := &backend.Bounds{Limit: quota.DefaultLimits().ConcurrentRooms, Levels: []float64{quota.DefaultThresholdLevel}, Hysteresis: 1}
	change, err := store.Reserve(ctx, "AC123", backend.Rooms, "reservation-1", b, 30*time.Second)
	if err != nil {
		fmt.Println(err) // *redisstore.UnavailableError under FailClosed
		return
	}
	if change.Refused {
		fmt.Println("refused:", change.Used, "of", change.Limit, "in use") // package quota makes this an *ExceededError
		return
	}
	for _, c := range change.Crossings {
		fmt.Printf("crossed %.0f%% rising=%v\n", c.Level*100, c.Rising) // only this caller sees it
	}
}
