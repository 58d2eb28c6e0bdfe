package video_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/videoquota/videoquota/video"
)

// TestConcurrentDuplicateCallbacksAppliedOnce: Twilio may retry a delivery
// while the first is still being applied, so both are in flight at once. A
// duplicate delivery changes nothing and is not passed on: OnRoomEvent sees
// each event once, and the ledger holds one Room per event.
func TestConcurrentDuplicateCallbacksAppliedOnce(t *testing.T) {
	var calls atomic.Int64
	vq, token := offline(t)
	h := vq.StatusCallbackHandler(video.OnRoomEvent(func(video.RoomEvent) { calls.Add(1) }))
	const trials, copies = 300, 4
	base := offlineNow.Add(-trials * time.Second) // the last event is "now"
	extra := 0
	for i := range trials {
		room := fmt.Sprintf("RM%032x", i+1)
		f := roomForm(vq.AccountSID(), video.EventRoomCreated, room, "", base.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
		before := calls.Load()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range copies {
			req := signedPost(token, "http://example.test/status", f)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					t.Errorf("status %d", w.Code)
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := calls.Load() - before; n != 1 {
			extra += int(n - 1)
		}
	}
	if extra > 0 {
		t.Errorf("%d duplicate deliveries (of %d events delivered %d times each, concurrently) were passed to OnRoomEvent", extra, trials, copies)
	}
	if r := mustUsed(t, vq, 0); r != trials {
		t.Errorf("rooms %d, want %d", r, trials)
	}
}
