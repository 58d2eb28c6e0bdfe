package video_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestReconcileAtTheTrackingCapHoldsWhatTwilioHas: a sender of signed
// callbacks fills the tracking cap (twice the limit) with Rooms and
// Participants Twilio never had, while two real Rooms with one Participant
// each are in progress at Twilio (their callbacks went elsewhere). One
// Reconcile makes the ledger count what Twilio lists: the real Rooms and
// Participants are held although the store counted the cap when the pass
// began, and the phantoms are gone.
func TestReconcileAtTheTrackingCapHoldsWhatTwilioHas(t *testing.T) {
	const limit = 5
	srv := videotest.NewServer(videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1, AdHocRooms: true})
	t.Cleanup(srv.Close)
	vq := newClient(t, srv, video.WithLogger(slog.New(&countLines{sub: "tracking cap reached"})),
		video.WithLimits(quota.Limits{ConcurrentRooms: limit, ConcurrentParticipants: limit,
			ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	for _, r := range []string{"real-1", "real-2"} {
		if _, err := srv.Connect(r, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	h := vq.StatusCallbackHandler()
	for i := range 2 * limit {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, connectedElsewhere(srv, "http://example.test/status", i, time.Now()))
		if w.Code != http.StatusOK {
			t.Fatalf("phantom %d: %d", i, w.Code)
		}
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 2*limit || p != 2*limit {
		t.Fatalf("before Reconcile the ledger counts %d Rooms and %d Participants, want the cap %d of each", r, p, 2*limit)
	}
	d, err := vq.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("Reconcile at the tracking cap: %v", err)
	}
	st := srv.Stats()
	r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants)
	t.Logf("after Reconcile (%+v): ledger %d Rooms, %d Participants; emulator %d, %d", d, r, p, st.RoomsNow, st.ParticipantsNow)
	if r != st.RoomsNow || p != st.ParticipantsNow {
		t.Errorf("after Reconcile the ledger counts %d Rooms and %d Participants, Twilio has %d and %d", r, p, st.RoomsNow, st.ParticipantsNow)
	}
}
