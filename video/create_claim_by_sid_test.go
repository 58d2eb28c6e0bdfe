package video_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestLateCallbackOfOldRoomLeavesCreateHeld: the late room-created and
// room-ended of a Room "standup" (SID1), made and completed elsewhere on
// the account, reach this Client while its own create of a new "standup"
// (SID2) is on the wire. A name alone does not claim a create's
// reservation: once the create returns and the old Room's events are
// applied, the ledger holds SID2, the one Room in progress.
func TestLateCallbackOfOldRoomLeavesCreateHeld(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
	t.Cleanup(srv.Close)
	ctx := context.Background()
	other := newClient(t, srv) // another replica / application on the account
	old, err := other.CreateRoom(ctx, room("standup"))
	if err != nil {
		t.Fatal(err)
	}
	oldAt := time.Now().UTC()
	if _, err := other.UpdateRoom(ctx, *old.Sid, completed()); err != nil {
		t.Fatal(err)
	}

	purl, processed, gate := gatedProxy(t, srv.URL(), func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Path == "/v1/Rooms"
	})
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(purl),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vq.Close() })
	h := vq.StatusCallbackHandler()
	post := func(event string, at time.Time) {
		t.Helper()
		f := roomForm(srv.AccountSID(), event, *old.Sid, "", at.Format(time.RFC3339))
		f.Set("RoomName", "standup")
		if event == video.EventRoomEnded {
			f.Set("RoomStatus", "completed")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(srv.AuthToken(), "http://hooks.test/status", f))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", event, w.Code, w.Body)
		}
	}

	type res struct {
		r   *openapi.VideoV1Room
		err error
	}
	done := make(chan res, 1)
	go func() { r, err := vq.CreateRoom(ctx, room("standup")); done <- res{r, err} }()
	<-processed
	post(video.EventRoomCreated, oldAt) // late delivery of the old Room's event
	close(gate)
	got := <-done
	if got.err != nil {
		t.Fatal(got.err)
	}
	post(video.EventRoomEnded, oldAt.Add(time.Second)) // the old Room's end, also late
	used, _ := usedPending(t, vq, quota.Rooms)
	held, _ := vq.Ledger().Holds(ctx, quota.Rooms, *got.r.Sid)
	t.Logf("new Room %s; old %s; ledger %d rooms (holds new: %v), emulator %d", *got.r.Sid, *old.Sid, used, held, srv.Stats().RoomsNow)
	if used != srv.Stats().RoomsNow || !held {
		t.Errorf("ledger %d rooms (holds the new Room: %v), emulator %d in progress: the create's slot went to the old Room", used, held, srv.Stats().RoomsNow)
	}
}
