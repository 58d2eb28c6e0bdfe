package quota_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
)

func ExampleLedger() {
	events := make(chan quota.Event, 8) // threshold funcs run on the ledger's own goroutine
	store, err := memstore.New()
	if err != nil {
		panic(err)
	}
	ledger, err := quota.NewLedger(store, "AC123", quota.Limits{ConcurrentRooms: 2},
		quota.WithThresholds(func(e quota.Event) { events <- e }, 0.5))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, key := range []string{"r1", "r2", "r3"} {
		if err := ledger.Reserve(ctx, quota.Rooms, key, time.Minute); errors.Is(err, quota.ErrExceeded) {
			fmt.Println("refused:", key)
		}
	}
	_ = ledger.Commit(ctx, quota.Rooms, "r1", "RM0001", quota.SourceLocal)
	used, _, _ := ledger.Used(ctx, quota.Rooms)
	fmt.Println("rooms in use:", used)
	e := <-events // delivered on the ledger's goroutine
	fmt.Printf("threshold %.0f%% of %s: rising=%v (%d/%d)\n", e.Level*100, e.Resource, e.Rising, e.Used, e.Limit)
	ledger.Close()
	// Output:
	// refused: r3
	// rooms in use: 2
	// threshold 50% of rooms: rising=true (1/2)
}

func ExampleLimiter() {
	store, err := memstore.New()
	if err != nil {
		panic(err)
	}
	lim, err := quota.NewLimiter(store, "AC123", quota.Limits{WritesPerSecond: 1})
	if err != nil {
		panic(err)
	}
	_ = lim.Wait(context.Background(), quota.Write) // the first token is free
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err = lim.Wait(ctx, quota.Write)
	var rl *quota.RateLimitError
	fmt.Println(errors.As(err, &rl), rl.Cause)
	// Output: true local deadline
}
