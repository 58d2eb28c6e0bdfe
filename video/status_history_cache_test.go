package video

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/forecast"
)

// TestStatusHistoryCacheMatchesTrend: the charts' history, read from the
// trend only since the last snapshot, is what reading the whole hour from
// the trend gives, whatever the pace of snapshots and observations:
// several per step, one every few steps, none for over an hour, and
// observations stamped ahead of the snapshot's clock.
func TestStatusHistoryCacheMatchesTrend(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		tr, err := forecast.NewTrend(forecast.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var h historyCache
		now := time.Unix(1_800_000_000, 0)
		used := 0
		for i := range 3000 {
			switch r := rng.IntN(100); {
			case r < 60:
				now = now.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
			case r < 62:
				now = now.Add(time.Duration(rng.IntN(7200)) * time.Second)
			case r < 70:
				now = now.Add(time.Duration(rng.IntN(60)) * time.Second)
			}
			for range rng.IntN(4) {
				used = max(0, used+rng.IntN(11)-5)
				at := now
				if rng.IntN(10) == 0 {
					at = now.Add(time.Duration(rng.IntN(30)) * time.Second) // another goroutine's later clock reading
				}
				tr.Observe(at, used)
			}
			got := h.last(tr, now, time.Hour)
			var want []int
			for _, p := range tr.History(now, time.Hour) {
				want = append(want, p.Max)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d, snapshot %d at %v: history %v, want the trend's %v", seed, i, now, got, want)
			}
		}
	}
}
