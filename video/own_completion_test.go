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

// TestLateRoomCreatedAfterOwnCompletionNotHeld: this Client completes,
// through REST, a Room another replica created, before any of that Room's
// callbacks reach it. The Client remembers that the Room ended, so the
// Room's room-created, delivered late but within the retention, holds no
// slot: the ledger counts what the emulator has in progress.
func TestLateRoomCreatedAfterOwnCompletionNotHeld(t *testing.T) {
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
