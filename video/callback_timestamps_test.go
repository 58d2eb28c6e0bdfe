package video_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestFutureTimestampLeavesCallbacksApplied: one signed event whose
// Timestamp is far in the future (well-formed RFC 3339, year 9999) does not
// move the clock the callbacks are judged by: later, correct events on
// today's clock are applied, not taken as stale, and the ledger keeps
// following Twilio.
func TestFutureTimestampLeavesCallbacksApplied(t *testing.T) {
	vq, token := offline(t)
	h := vq.StatusCallbackHandler()
	post := func(event, roomSID, part, ts string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, "http://example.test/status", roomForm(vq.AccountSID(), event, roomSID, part, ts)))
		return w.Code
	}
	const bogusRoom = "RMffffffffffffffffffffffffffffffff"
	code := post(video.EventRoomCreated, bogusRoom, "", "9999-12-31T23:59:59Z")
	t.Logf("far-future event: HTTP %d", code)
	// Later, ordinary events for another Room, on today's clock.
	if c := post(video.EventRoomCreated, testRoom, "", "2026-11-26T10:00:00Z"); c != http.StatusOK {
		t.Fatalf("room-created: %d", c)
	}
	if c := post(video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:01Z"); c != http.StatusOK {
		t.Fatalf("participant-connected: %d", c)
	}
	roomHeld, _ := vq.Ledger().Holds(t.Context(), quota.Rooms, testRoom)
	partHeld, _ := vq.Ledger().Holds(t.Context(), quota.Participants, testPart)
	if !roomHeld || !partHeld {
		t.Errorf("after one far-future event, a current room-created and participant-connected were ignored: room held %v, participant held %v", roomHeld, partHeld)
	}
}
