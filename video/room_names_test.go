package video_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// namedRoomForm is roomForm for a Room with UniqueName name.
func namedRoomForm(account, event, roomSID, name, partSID, ts string) map[string][]string {
	f := roomForm(account, event, roomSID, partSID, ts)
	f.Set("RoomName", name)
	if event == video.EventRoomEnded {
		f.Set("RoomStatus", "completed")
	}
	return f
}

// TestLateRoomCreatedKeepsLiveName: Room A "lobby" ended; Room B took the
// name "lobby" and is in progress; A's room-created then comes, late
// (callbacks come in any order). A late event of the ended A does not make
// the name point at A again: a token for "lobby" is a token for B, in
// progress, and reserves no Room slot.
func TestLateRoomCreatedKeepsLiveName(t *testing.T) {
	const roomA, roomB = "RM00000000000000000000000000000a0a", "RM00000000000000000000000000000b0b"
	vq, token := offline(t, video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"),
		video.WithLimits(quota.Limits{ConcurrentRooms: 1, ConcurrentParticipants: 10}))
	h := vq.StatusCallbackHandler()
	acct := vq.AccountSID()
	send := func(event, room, ts string) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, "http://x.test/s", namedRoomForm(acct, event, room, "lobby", "", ts)))
		if w.Code != http.StatusOK && w.Code != http.StatusNoContent {
			t.Fatalf("%s %s: status %d", event, room, w.Code)
		}
	}
	send(video.EventRoomEnded, roomA, "2026-11-26T10:00:10Z")
	send(video.EventRoomCreated, roomB, "2026-11-26T10:00:20Z")
	send(video.EventRoomCreated, roomA, "2026-11-26T10:00:00Z") // delivered late
	ctx := context.Background()
	if _, err := vq.JoinToken(ctx, "lobby", "alice"); err != nil {
		t.Fatalf("JoinToken for lobby, in progress as %s with the quota of 1 Room used by it: %v", roomB, err)
	}
	if n := mustUsed(t, vq, quota.Rooms); n != 1 {
		t.Fatalf("rooms used %d, want 1 (B; the token joins it)", n)
	}
}

// TestJoinTokenWhileRoomLearntReservesNoRoom: JoinToken("lobby") asks
// whether a Room is in progress under that name while the room-created of
// "lobby" is being applied (its Room's slot on its way to a slow shared
// store). The Room is in progress (Twilio said so): the token reserves no
// second Room slot, and the model keeps the Room's name, so that later
// tokens for "lobby" reserve none either.
func TestJoinTokenWhileRoomLearntReservesNoRoom(t *testing.T) {
	const room = "RM00000000000000000000000000000c0c"
	st := &slowStore{Store: memStore(t), match: room, gate: make(chan struct{}), inside: make(chan string, 1)}
	clk := &fakeClock{t: offlineNow}
	vq, token := offline(t, video.WithStore(st), video.WithClock(clk),
		video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"),
		video.WithLimits(quota.Limits{ConcurrentRooms: 10, ConcurrentParticipants: 10}))
	h := vq.StatusCallbackHandler()
	done := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, "http://x.test/s", namedRoomForm(vq.AccountSID(), video.EventRoomCreated, room, "lobby", "", "2026-11-26T10:00:00Z")))
		done <- w.Code
	}()
	<-st.inside // the Room's slot is on its way to the store
	ctx := context.Background()
	if _, err := vq.JoinToken(ctx, "lobby", "alice"); err != nil {
		t.Fatal(err)
	}
	close(st.gate)
	if code := <-done; code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("room-created: status %d", code)
	}
	clk.Advance(2 * time.Hour) // alice's token has expired
	if _, err := vq.JoinToken(ctx, "lobby", "bob"); err != nil {
		t.Fatal(err)
	}
	if n := mustUsed(t, vq, quota.Rooms); n != 1 {
		t.Fatalf("rooms used %d, want 1: the tokens for lobby join the Room in progress", n)
	}
}
