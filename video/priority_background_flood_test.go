package video_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// instantTwilio answers every request at once, in memory, as Twilio answers
// a Room created, and records when each request arrived, so that a Client
// runs under testing/synctest's fake clock.
type instantTwilio struct {
	n    atomic.Int64
	mu   sync.Mutex
	sent []time.Time
}

func (f *instantTwilio) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	f.mu.Lock()
	f.sent = append(f.sent, time.Now())
	f.mu.Unlock()
	body := fmt.Sprintf(`{"sid":"RM%032x","status":"in-progress"}`, f.n.Add(1))
	return &http.Response{StatusCode: http.StatusCreated, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// TestBackgroundFloodLeavesNormalUnder100ms is the figure of the priority
// levels: background creates offered at 3× the write quota (20/s) and
// normal creates at 20% of it, for 20 s of fake time. Every normal create
// (each with a one-second deadline, so that a token further away would be
// refused locally) is sent with a p99 wait of at most 100 ms, none is
// refused, and the creates sent add up to at least 99% of the quota.
func TestBackgroundFloodLeavesNormalUnder100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := &instantTwilio{}
		vq, err := video.New("AC0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef",
			video.WithBaseURL("http://127.0.0.1:1"), video.WithHTTPClient(&http.Client{Transport: tw}),
			video.WithLimits(quota.Limits{WritesPerSecond: 20, WriteBurst: 1}))
		if err != nil {
			t.Fatal(err)
		}
		defer vq.Close()
		const run = 20 * time.Second
		start := time.Now()
		end := start.Add(run)
		ctx, stop := context.WithCancel(context.Background())
		bg := video.WithPriority(ctx, video.PriorityBackground)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			waits   []time.Duration
			refused []error
		)
		offer := func(perSecond float64, call func()) {
			wg.Go(func() {
				tick := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
						wg.Go(call)
					}
				}
			})
		}
		offer(60, func() { _, _ = vq.CreateRoom(bg, room("")) })
		offer(4, func() {
			asked := time.Now()
			if asked.After(end) {
				return
			}
			nctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := vq.CreateRoom(nctx, room(""))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused = append(refused, err)
				return
			}
			waits = append(waits, time.Since(asked))
		})
		time.Sleep(run + 2*time.Second) // the last normal creates finish
		stop()
		wg.Wait()

		if len(refused) > 0 {
			t.Errorf("%d normal creates failed, the first: %v", len(refused), refused[0])
		}
		slices.Sort(waits)
		if len(waits) < 75 {
			t.Fatalf("%d normal creates sent, want about 80", len(waits))
		}
		p99 := waits[(len(waits)*99+99)/100-1]
		t.Logf("normal creates: %d, wait p50 %v, p99 %v, max %v", len(waits), waits[len(waits)/2], p99, waits[len(waits)-1])
		if p99 > 100*time.Millisecond {
			t.Errorf("normal wait p99 %v, want ≤ 100ms", p99)
		}
		if u := vq.Usage(); u.LocalRefusals != 0 || u.Writes.Priorities[video.PriorityNormal].Refused != 0 {
			t.Errorf("local refusals %d, normal refused %d; want none", u.LocalRefusals, u.Writes.Priorities[video.PriorityNormal].Refused)
		}
		tw.mu.Lock()
		sent := 0
		for _, at := range tw.sent {
			if at.Before(end) {
				sent++
			}
		}
		tw.mu.Unlock()
		quotaSent := int(run.Seconds() * 20)
		t.Logf("sent in %v: %d of the quota's %d", run, sent, quotaSent)
		if sent*100 < quotaSent*99 {
			t.Errorf("sent %d in %v, want ≥ 99%% of %d", sent, run, quotaSent)
		}
	})
}
