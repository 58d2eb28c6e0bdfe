package video_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestAdversarialLateRoomCreatedAfterOwnCompletion: this Client completes,
// through REST, a Room another replica created (its callbacks have not
// reached this Client yet). endRoom(SourceLocal) of a Room new to the
// model does not remember it ended (model.go "a Room only the index knew
// ... is forgotten"), so the Room's room-created, delivered late but well
// within the retention, holds a slot for a Room this Client itself saw
// complete: a phantom until the next Reconcile.
func TestAdversarialLateRoomCreatedAfterOwnCompletion(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1})
	t.Cleanup(srv.Close)
	ctx := context.Background()
	other := newClient(t, srv)
	r, err := other.CreateRoom(ctx, room("standup"))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now().UTC()
	vq := newClient(t, srv, video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	if _, err := vq.UpdateRoom(ctx, *r.Sid, completed()); err != nil {
		t.Fatal(err)
	}
	f := roomForm(srv.AccountSID(), video.EventRoomCreated, *r.Sid, "", created.Format(time.RFC3339))
	f.Set("RoomName", "standup")
	w := httptest.NewRecorder()
	vq.StatusCallbackHandler().ServeHTTP(w, signedPost(srv.AuthToken(), "http://hooks.test/status", f))
	if w.Code != http.StatusOK {
		t.Fatalf("room-created: %d", w.Code)
	}
	if used := mustUsed(t, vq, quota.Rooms); used != srv.Stats().RoomsNow {
		t.Errorf("ledger %d rooms, emulator %d: the late room-created of a Room this Client completed is held", used, srv.Stats().RoomsNow)
	}
}
