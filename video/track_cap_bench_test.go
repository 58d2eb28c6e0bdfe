package video_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// BenchmarkCallbackFlood sends 1,000,000 signed participant-connected
// callbacks, each for a distinct Room never ended, to a Client with Twilio's
// default limits (10,000 Rooms and 10,000 Participants), and reports the
// live heap it leaves (heap-MB, after a GC, less the heap before) and the
// ledger's counts: at most twice the limits (quota.TrackCapFactor), however
// many are sent, in at most trackedHeapBoundMB of heap (the bound the
// package doc of StatusCallbackHandler states). Run it alone: go test -run '^$' -bench CallbackFlood
// -benchtime 1x ./video.
func BenchmarkCallbackFlood(b *testing.B) {
	const trackedHeapBoundMB = 16
	const sent = 1_000_000
	for range b.N {
		b.StopTimer()
		srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
		vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
		if err != nil {
			b.Fatal(err)
		}
		h := vq.StatusCallbackHandler()
		const target = "http://example.test/status"
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		refused := 0
		for i := range sent {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, connectedElsewhere(srv, target, i, time.Now()))
			if w.Code == http.StatusServiceUnavailable {
				refused++
			} else if w.Code != http.StatusOK {
				b.Fatalf("callback %d: %d", i, w.Code)
			}
		}
		b.StopTimer()
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		rooms, parts := mustUsed(b, vq, quota.Rooms), mustUsed(b, vq, quota.Participants)
		lim := vq.Limits()
		if rooms > 2*lim.ConcurrentRooms || parts > 2*lim.ConcurrentParticipants {
			b.Errorf("the ledger counts %d Rooms and %d Participants, more than twice the limits (%d, %d)",
				rooms, parts, lim.ConcurrentRooms, lim.ConcurrentParticipants)
		}
		heapMB := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		if heapMB > trackedHeapBoundMB {
			b.Errorf("the flood left %.1f MB of live heap, more than the documented bound (%d MB)", heapMB, trackedHeapBoundMB)
		}
		b.ReportMetric(heapMB, "heap-MB")
		b.ReportMetric(float64(rooms), "ledger-rooms")
		b.ReportMetric(float64(parts), "ledger-participants")
		b.ReportMetric(float64(refused), "refused")
		vq.Close()
		srv.Close()
	}
}
