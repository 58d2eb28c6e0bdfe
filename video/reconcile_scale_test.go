package video_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// advance returns a sleep that moves clk instead of waiting.
func advance(clk *videotest.FakeClock) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		clk.Advance(d)
		return nil
	}
}

// budgetClient is a Client of Twilio's default read quota (80/s), whose
// reconciliation waits on clk, and whose own read bucket never waits (its
// burst covers the test), against the emulator at base.
func budgetClient(tb testing.TB, base, account, token string, clk *videotest.FakeClock) *video.Client {
	tb.Helper()
	vq, err := video.New(account, token, video.WithBaseURL(base), video.WithClock(clk.Now),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.DefaultReadsPerSecond, ReadBurst: 1 << 24,
			WritesPerSecond: 1e9, WriteBurst: 1 << 20,
			ConcurrentRooms: quota.Unlimited, ConcurrentParticipants: quota.Unlimited}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { vq.Close() })
	video.SetSleep(vq, advance(clk))
	return vq
}

// BenchmarkReconcileBudget measures one Reconcile pass at the default read
// share of Twilio's default read quota (480 reads a pass of one minute) at
// n in-progress Rooms of one connected Participant each, against the
// emulator in another process (B/op is the Client's alone). The pacing
// waits on a fake clock, so ns/op is the pass's work, not its minute.
func BenchmarkReconcileBudget(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("rooms=%d", n), func(b *testing.B) {
			base, account, token := benchEmulator(b, n)
			clk := videotest.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
			vq := budgetClient(b, base, account, token, clk)
			ctx := context.Background()
			var d video.Drift
			var err error
			for range 3 { // past the first passes, which learn the account
				if d, err = vq.Reconcile(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if d, err = vq.Reconcile(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if d.Rooms.Twilio != n || d.Requests > d.Budget {
				b.Fatalf("pass %v (budget %d), want %d rooms within the budget", d, d.Budget, n)
			}
			if u := vq.Usage(); u.Rooms.Used != n {
				b.Fatalf("ledger holds %d rooms, want %d", u.Rooms.Used, n)
			}
			b.ReportMetric(float64(d.Requests), "reads/pass")
			b.ReportMetric(float64(d.Listed), "rooms-listed/pass")
			b.ReportMetric(float64(d.Sweep), "passes/sweep")
		})
	}
}
