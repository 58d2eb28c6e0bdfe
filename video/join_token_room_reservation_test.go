package video_test

import (
	"context"
	"testing"
	"time"

	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestJoinTokenRoomReservationEndsWithRoom: JoinToken("lobby") is
// reserving its Room slot (a slow shared store) when the room-created of
// "lobby" (opened by another replica's token) arrives. The token's Room
// reservation does not outlive the Room: after every callback and a
// Reconcile past the request window, the ledger counts the Rooms the
// emulator has in progress.
func TestJoinTokenRoomReservationEndsWithRoom(t *testing.T) {
	st := &slowStore{Store: memStore(t), match: "pending-room:lobby", gate: make(chan struct{}), inside: make(chan string, 1)}
	clk := &fakeClock{t: time.Now()}
	e := newCBEnv(t, churnOptions(videotest.Faults{}), nil, video.WithStore(st), video.WithClock(clk))
	ctx := context.Background()

	type res struct {
		tok string
		err error
	}
	done := make(chan res, 1)
	go func() { tok, err := e.vq.JoinToken(ctx, "lobby", "alice"); done <- res{tok, err} }()
	<-st.inside                                              // alice's Room reservation is on its way to the store
	if _, err := e.srv.Connect("lobby", "bob"); err != nil { // another replica's user opens "lobby"
		t.Fatal(err)
	}
	e.flush(t)
	close(st.gate)
	got := <-done
	if got.err != nil {
		t.Fatal(got.err)
	}
	if _, err := e.srv.ConnectWithToken(got.tok, "lobby"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	for _, id := range []string{"alice", "bob"} {
		if err := e.srv.Disconnect("lobby", id); err != nil {
			t.Fatal(err)
		}
	}
	e.flush(t)
	clk.Advance(video.DefaultRequestWindow + time.Second)
	if _, err := e.vq.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	u := e.vq.Usage()
	t.Logf("after every callback and a Reconcile: rooms %d (pending %d), participants %d (pending %d); emulator rooms %d",
		u.Rooms.Used, u.Rooms.Pending, u.Participants.Used, u.Participants.Pending, e.srv.Stats().RoomsNow)
	if u.Rooms.Used != e.srv.Stats().RoomsNow {
		t.Errorf("ledger %d rooms (pending %d), emulator %d: the token's Room reservation outlived its Room", u.Rooms.Used, u.Rooms.Pending, e.srv.Stats().RoomsNow)
	}
}
