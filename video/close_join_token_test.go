package video_test

import (
	"context"
	"errors"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestCloseDuringJoinTokenLeavesNoSharedReservation: replica A is closed
// (a rolling deploy) while its JoinToken's Room reservation is on the way
// to the shared store. A JoinToken that returns no token leaves nothing
// held in the shared store: replica B counts no Room and nothing pending.
func TestCloseDuringJoinTokenLeavesNoSharedReservation(t *testing.T) {
	st := &slowStore{Store: memStore(t), match: "pending-room:", gate: make(chan struct{}), inside: make(chan string, 1)}
	key := video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret")
	a, _ := offline(t, video.WithStore(st), key)
	b, _ := offline(t, video.WithStore(st), key)
	errc := make(chan error, 1)
	go func() { _, err := a.JoinToken(context.Background(), "standup", "alice"); errc <- err }()
	<-st.inside
	closed := make(chan struct{})
	go func() { a.Close(); close(closed) }()
	<-closed
	close(st.gate)
	err := <-errc
	t.Logf("A's JoinToken across Close: %v", err)
	if err == nil {
		t.Skip("JoinToken succeeded: its reservation is backed by a token")
	}
	if !errors.Is(err, video.ErrClosed) {
		t.Fatalf("JoinToken: %v", err)
	}
	if used, pending := usedPending(t, b, quota.Rooms); used != 0 {
		t.Errorf("replica B sees %d Rooms (%d pending) after A's JoinToken failed and returned no token", used, pending)
	}
}
