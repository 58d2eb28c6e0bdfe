package video_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// BenchmarkStatusUnderFlood measures what reading the status handler 1,000
// times a second costs a flood: 16 goroutines create a Room, fetch it and
// complete it, as fast as the loopback emulator answers (limits so high that
// nothing waits, the worst case for contention with the status reads), in
// alternating phases without and with a reader that GETs the status JSON
// over loopback HTTP every millisecond. It reports the p99 latency of the
// flood's calls in each (the median over the rounds), the overhead in
// percent, and the status reads achieved per second.
func BenchmarkStatusUnderFlood(b *testing.B) {
	const (
		workers = 16
		phase   = 2 * time.Second
		rounds  = 5
	)
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
	b.Cleanup(srv.Close)
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithLimits(quota.Limits{ReadsPerSecond: 1e9, WritesPerSecond: 1e9, ReadBurst: 1 << 20, WriteBurst: 1 << 20}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vq.Close() })
	hs := httptest.NewServer(vq.StatusHandler())
	b.Cleanup(hs.Close)
	ctx := context.Background()
	var seq atomic.Int64

	flood := func(d time.Duration) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for range workers {
			wg.Go(func() {
				var mine []time.Duration
				for time.Now().Before(end) {
					t0 := time.Now()
					r, err := vq.CreateRoom(ctx, (&openapi.CreateRoomParams{}).SetUniqueName(fmt.Sprintf("f%d", seq.Add(1))))
					if err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
					t0 = time.Now()
					if _, err := vq.FetchRoom(ctx, *r.Sid); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
					t0 = time.Now()
					if _, err := vq.UpdateRoom(ctx, *r.Sid, (&openapi.UpdateRoomParams{}).SetStatus("completed")); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return lat
	}
	// reader offers a GET every millisecond to a pool of 32 readers (an
	// arrival finding them all busy is dropped and not counted), so that a
	// slow read does not lower the rate offered; arrivals late by the
	// scheduler are caught up, not skipped.
	reader := func(stop <-chan struct{}, n *atomic.Int64) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
		defer hc.CloseIdleConnections()
		work := make(chan struct{})
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range work {
					req, _ := http.NewRequest(http.MethodGet, hs.URL, nil)
					req.Header.Set("Accept", "application/json")
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n.Add(1)
				}
			})
		}
		next := time.Now()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-stop:
				close(work)
				wg.Wait()
				return
			case <-t.C:
				select {
				case work <- struct{}{}:
				default:
				}
				next = next.Add(time.Millisecond)
				t.Reset(time.Until(next))
			}
		}
	}
	p99 := func(l []time.Duration) time.Duration {
		slices.Sort(l)
		return l[len(l)*99/100]
	}
	for b.Loop() {
		var off, on []time.Duration
		var reads atomic.Int64
		for range rounds {
			off = append(off, p99(flood(phase)))
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { reader(stop, &reads); close(done) }()
			on = append(on, p99(flood(phase)))
			close(stop)
			<-done
		}
		slices.Sort(off)
		slices.Sort(on)
		mOff, mOn := off[rounds/2], on[rounds/2]
		b.ReportMetric(float64(mOff.Microseconds()), "p99-without-µs")
		b.ReportMetric(float64(mOn.Microseconds()), "p99-with-status-µs")
		b.ReportMetric(100*(float64(mOn)/float64(mOff)-1), "overhead-%")
		b.ReportMetric(float64(reads.Load())/(rounds*phase.Seconds()), "status-reads/s")
		b.Logf("p99 without status reads %v, with %v (rounds: %v / %v)", mOff, mOn, off, on)
	}
}

// BenchmarkStatusRead is one read of the status JSON, in process.
func BenchmarkStatusRead(b *testing.B) {
	_, vq := setupB(b)
	h := vq.StatusHandler()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

func setupB(b *testing.B) (*videotest.Server, *video.Client) {
	srv := videotest.NewServer(videotest.Options{})
	b.Cleanup(srv.Close)
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vq.Close() })
	return srv, vq
}

// BenchmarkStatusSnapshot is the cost of building one snapshot
// ([video.Client.Status]): what a read costs when what the page shows has
// changed and the last snapshot is older than 100 ms.
func BenchmarkStatusSnapshot(b *testing.B) {
	_, vq := setupB(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = vq.Status()
	}
}

// BenchmarkStatusPage is one read of the status page (HTML), in process.
func BenchmarkStatusPage(b *testing.B) {
	_, vq := setupB(b)
	h := vq.StatusHandler()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept", "text/html")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
