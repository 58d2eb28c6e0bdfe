package video_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestReconcileUpperCaseHolds: in a Room of 45 connected Participants,
// the application also held, through HoldParticipant, the upper-case form
// of each of their SIDs and of 5 SIDs Twilio never had (95 indexed: past
// bigRoom). Those are other keys than Twilio's lower-case SIDs, in the
// ledger as in the model (the store is a map of strings); Twilio lists
// none of them, so Reconcile removes every one and keeps exactly Twilio's
// 45, then follows 20 leaving.
func TestReconcileUpperCaseHolds(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true, ReadsPerSecond: -1, WritesPerSecond: -1,
		ConcurrentRooms: -1, ConcurrentParticipants: -1})
	t.Cleanup(srv.Close)
	var parts []string
	for i := range 45 {
		p, err := srv.Connect("big", fmt.Sprintf("user-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	clk := videotest.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	vq := budgetClient(t, srv.URL(), srv.AccountSID(), srv.AuthToken(), clk)
	ctx := context.Background()
	room, err := vq.FetchRoom(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	reconcile := func() {
		t.Helper()
		clk.Advance(video.DefaultRequestWindow + time.Second)
		if _, err := vq.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reconcile()
	if u := vq.Usage(); u.Participants.Used != 45 {
		t.Fatalf("after the first pass: %d Participants held, want 45", u.Participants.Used)
	}
	upper := func(sid string) string { return "PA" + strings.ToUpper(sid[2:]) }
	held := 0
	for _, p := range append(parts, "PA0123456789abcdef0123456789abcde0", "PA0123456789abcdef0123456789abcde1",
		"PA0123456789abcdef0123456789abcde2", "PA0123456789abcdef0123456789abcde3", "PA0123456789abcdef0123456789abcde4") {
		if err := vq.HoldParticipant(ctx, *room.Sid, upper(p)); err != nil {
			t.Fatal(err)
		}
		held++
	}
	if u := vq.Usage(); u.Participants.Used != 45+held {
		t.Fatalf("after the holds: %d Participants held, want %d", u.Participants.Used, 45+held)
	}
	for range 3 {
		reconcile()
	}
	if u := vq.Usage(); u.Participants.Used != 45 {
		t.Fatalf("after reconciling: %d Participants held, want Twilio's 45", u.Participants.Used)
	}
	for _, p := range parts {
		if ok, err := vq.Ledger().Holds(ctx, quota.Participants, upper(p)); err != nil || ok {
			t.Fatalf("%s still held (%v)", upper(p), err)
		}
		if ok, err := vq.Ledger().Holds(ctx, quota.Participants, p); err != nil || !ok {
			t.Fatalf("%s not held (%v)", p, err)
		}
	}
	for _, p := range parts[:20] {
		if err := srv.Disconnect("big", p); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		reconcile()
	}
	if u := vq.Usage(); u.Participants.Used != 25 {
		t.Fatalf("after 20 left: %d Participants held, want 25", u.Participants.Used)
	}
}
