package videotest_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

func TestRoomQuota(t *testing.T) {
	const n = 25
	srv, v, _, _ := newTest(t, videotest.Options{ConcurrentRooms: n})
	for i := 0; i < n; i++ {
		if _, err := v.CreateRoom(&openapi.CreateRoomParams{}); err != nil {
			t.Fatalf("room %d: %v", i+1, err)
		}
	}
	_, err := v.CreateRoom(&openapi.CreateRoomParams{})
	restErr(t, err, 53119, 400)
	// Ending one frees a slot.
	rooms := must(v.ListRoom(nil))
	if len(rooms) != n {
		t.Fatalf("in-progress rooms = %d", len(rooms))
	}
	must(v.UpdateRoom(*rooms[0].Sid, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	must(v.CreateRoom(&openapi.CreateRoomParams{}))
	if st := srv.Stats(); st.RoomsNow != n || st.RoomsPeak != n || st.RoomsCreated != n+1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestAdHocRoomQuota(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{ConcurrentRooms: 2, AdHocRooms: true})
	must(srv.Connect("a", "x"))
	must(srv.Connect("b", "x"))
	_, err := srv.Connect("c", "x")
	wantCode(t, err, 53119)
	must(srv.Connect("a", "y")) // joining an existing room needs no new room
}

func TestParticipantQuota(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{ConcurrentParticipants: 60})
	r1 := must(v.CreateRoom(&openapi.CreateRoomParams{}))
	r2 := must(v.CreateRoom(&openapi.CreateRoomParams{}))
	for i := 0; i < 50; i++ {
		must(srv.Connect(*r1.Sid, "p"+itoa(i)))
	}
	_, err := srv.Connect(*r1.Sid, "p50")
	wantCode(t, err, 53105) // group rooms hold 50
	for i := 0; i < 10; i++ {
		must(srv.Connect(*r2.Sid, "q"+itoa(i)))
	}
	_, err = srv.Connect(*r2.Sid, "q10")
	wantCode(t, err, 53206)
	if st := srv.Stats(); st.ParticipantsNow != 60 {
		t.Fatalf("ParticipantsNow = %d", st.ParticipantsNow)
	}
}

func TestWriteBurstThrottled(t *testing.T) {
	fc := videotest.NewFakeClock(epoch)
	srv, v, _, _ := newTest(t, videotest.Options{Clock: fc, WritesPerSecond: 20, ReadsPerSecond: 80})
	for i := 0; i < 20; i++ { // one second's worth
		if _, err := v.CreateRoom(&openapi.CreateRoomParams{}); err != nil {
			t.Fatalf("write %d: %v", i+1, err)
		}
	}
	_, err := v.CreateRoom(&openapi.CreateRoomParams{})
	restErr(t, err, 20429, 429)
	// Reads have their own bucket.
	must(v.ListRoom(&openapi.ListRoomParams{PageSize: ptr(5)})) // 4 pages = 4 reads
	fc.Advance(50 * time.Millisecond)                           // one token back at 20/s
	must(v.CreateRoom(&openapi.CreateRoomParams{}))
	_, err = v.CreateRoom(&openapi.CreateRoomParams{})
	restErr(t, err, 20429, 429)
	st := srv.Stats()
	if st.Writes != 23 || st.Reads != 4 || st.Throttled != 2 || st.Requests[429] != 2 || st.Requests[201] != 21 {
		t.Fatalf("stats = %+v", st)
	}
	if st.RoomsNow != 21 {
		t.Fatalf("a throttled create changed state: RoomsNow = %d", st.RoomsNow)
	}
}

func TestReadBurstThrottled(t *testing.T) {
	fc := videotest.NewFakeClock(epoch)
	srv, v, _, _ := newTest(t, videotest.Options{Clock: fc, ReadsPerSecond: 80, ReadBurst: 10})
	for i := 0; i < 10; i++ {
		if _, err := v.ListRoom(nil); err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
	}
	_, err := v.FetchRoom("x")
	restErr(t, err, 20429, 429)
	fc.Advance(time.Second)
	_, err = v.FetchRoom("x")
	restErr(t, err, 20404, 404)
	if st := srv.Stats(); st.Reads != 12 || st.Throttled != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{RetryAfter: 1500 * time.Millisecond,
		Faults: videotest.Faults{Force429: 1}})
	status, h, te := raw(t, srv, "GET", "/v1/Rooms", "", nil, true)
	if status != 429 || te.Code != 20429 || h.Get("Retry-After") != "2" {
		t.Fatalf("status %d code %d Retry-After %q", status, te.Code, h.Get("Retry-After"))
	}
	status, h, _ = raw(t, srv, "GET", "/v1/Rooms", "", nil, true)
	if status != 200 || h.Get("Retry-After") != "" {
		t.Fatalf("second request: %d %q", status, h.Get("Retry-After"))
	}
}

func TestConcurrencyLimit(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{MaxConcurrentRequests: 2,
		Faults: videotest.Faults{Latency: 300 * time.Millisecond, Match: func(m, p string) bool { return p == "/v1/Recordings" }}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ { // two slow requests hold both slots
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/v1/Recordings", nil)
			req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().TotalRequests < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	status, h, te := raw(t, srv, "GET", "/v1/Rooms", "", nil, true)
	if status != 429 || te.Code != 20429 || h.Get("Twilio-Concurrent-Requests") != "3" {
		t.Fatalf("status %d code %d concurrent %q", status, te.Code, h.Get("Twilio-Concurrent-Requests"))
	}
	wg.Wait()
	if st := srv.Stats(); st.ThrottledConcurrency != 1 || st.InFlightPeak < 3 {
		t.Fatalf("stats = %+v", st)
	}
}
