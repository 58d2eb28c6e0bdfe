package videotest_test

import (
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

func roomStatus(t *testing.T, v *openapi.ApiService, sid string) string {
	t.Helper()
	return *must(v.FetchRoom(sid)).Status
}

func TestUnusedRoomTimeout(t *testing.T) {
	srv, v, _, fc := newTest(t, videotest.Options{})
	def := must(v.CreateRoom(&openapi.CreateRoomParams{}))
	short := must(v.CreateRoom(&openapi.CreateRoomParams{UnusedRoomTimeout: ptr(1)}))
	fc.Advance(time.Minute - time.Second)
	if roomStatus(t, v, *short.Sid) != "in-progress" {
		t.Fatal("ended before its UnusedRoomTimeout")
	}
	fc.Advance(time.Second)
	if roomStatus(t, v, *short.Sid) != "completed" || roomStatus(t, v, *def.Sid) != "in-progress" {
		t.Fatal("1-minute room should have ended, 5-minute room not")
	}
	fc.Advance(4 * time.Minute)
	got := must(v.FetchRoom(*def.Sid))
	if *got.Status != "completed" || *got.Duration != 300 || !got.EndTime.Equal(epoch.Add(5*time.Minute)) {
		t.Fatalf("default room = status %s duration %d end %v", *got.Status, *got.Duration, got.EndTime)
	}
	if st := srv.Stats(); st.RoomsNow != 0 || st.RoomsEnded != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestEmptyRoomTimeout(t *testing.T) {
	srv, v, _, fc := newTest(t, videotest.Options{})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{EmptyRoomTimeout: ptr(2)}))
	must(srv.Connect(*r.Sid, "a"))
	fc.Advance(10 * time.Minute) // occupied: the unused timeout no longer applies
	if roomStatus(t, v, *r.Sid) != "in-progress" {
		t.Fatal("occupied room ended")
	}
	if err := srv.Disconnect(*r.Sid, "a"); err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Minute)
	must(srv.Connect(*r.Sid, "b")) // rejoining cancels the empty timeout
	fc.Advance(5 * time.Minute)
	if roomStatus(t, v, *r.Sid) != "in-progress" {
		t.Fatal("room ended while occupied")
	}
	if err := srv.Disconnect(*r.Sid, "b"); err != nil {
		t.Fatal(err)
	}
	fc.Advance(2 * time.Minute)
	if roomStatus(t, v, *r.Sid) != "completed" {
		t.Fatal("room did not end EmptyRoomTimeout after the last participant left")
	}
}

func TestAdHocRoomEndsWhenEmpty(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{AdHocRooms: true, AdHocRoomType: "group-small"})
	a := must(srv.Connect("huddle", "a"))
	must(srv.Connect("huddle", "b"))
	r := must(v.FetchRoom("huddle"))
	if *r.Type != "group-small" || r.MaxParticipants != 4 {
		t.Fatalf("ad-hoc room = %+v", r)
	}
	if err := srv.Disconnect("huddle", a); err != nil {
		t.Fatal(err)
	}
	if roomStatus(t, v, *r.Sid) != "in-progress" {
		t.Fatal("ended with a participant left")
	}
	if err := srv.Disconnect("huddle", "b"); err != nil {
		t.Fatal(err)
	}
	if roomStatus(t, v, *r.Sid) != "completed" {
		t.Fatal("ad-hoc room did not end when the last participant left")
	}
	// The name is free again: a new ad-hoc room.
	must(srv.Connect("huddle", "c"))
	if r2 := must(v.FetchRoom("huddle")); *r2.Sid == *r.Sid {
		t.Fatal("reused a completed room")
	}
}

func TestCompleteDisconnectsParticipants(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{}))
	for _, id := range []string{"a", "b", "c"} {
		must(srv.Connect(*r.Sid, id))
	}
	must(v.UpdateRoom(*r.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	ps := must(v.ListRoomParticipant(*r.Sid, nil)) // completed room: disconnected by default
	if len(ps) != 3 {
		t.Fatalf("participants = %d", len(ps))
	}
	for _, p := range ps {
		if *p.Status != "disconnected" || p.EndTime == nil {
			t.Fatalf("participant = %+v", p)
		}
	}
	if st := srv.Stats(); st.ParticipantsNow != 0 || st.RoomsNow != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestDuplicateIdentityReplaces(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{}))
	first := must(srv.Connect(*r.Sid, "alice"))
	second := must(srv.Connect(*r.Sid, "alice"))
	if first == second {
		t.Fatal("same SID for the replacement")
	}
	if st := srv.Stats(); st.ParticipantsNow != 1 {
		t.Fatalf("ParticipantsNow = %d, want 1", st.ParticipantsNow)
	}
	if p := must(v.FetchRoomParticipant(*r.Sid, first)); *p.Status != "disconnected" {
		t.Fatalf("first = %s", *p.Status)
	}
	if p := must(v.FetchRoomParticipant(*r.Sid, "alice")); *p.Sid != second {
		t.Fatalf("identity resolves to %s", *p.Sid)
	}
}

func TestMaxParticipantDuration(t *testing.T) {
	srv, v, _, fc := newTest(t, videotest.Options{})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{MaxParticipantDuration: ptr(600), EmptyRoomTimeout: ptr(1)}))
	p := must(srv.Connect(*r.Sid, "a"))
	fc.Advance(599 * time.Second)
	if got := must(v.FetchRoomParticipant(*r.Sid, p)); *got.Status != "connected" {
		t.Fatal("disconnected early")
	}
	fc.Advance(time.Second)
	got := must(v.FetchRoomParticipant(*r.Sid, p))
	if *got.Status != "disconnected" || *got.Duration != 600 {
		t.Fatalf("participant = %s duration %v", *got.Status, got.Duration)
	}
	fc.Advance(time.Minute)
	if roomStatus(t, v, *r.Sid) != "completed" {
		t.Fatal("room did not follow with its empty timeout")
	}
	if fc.Pending() != 0 {
		t.Fatalf("%d timers left", fc.Pending())
	}
}
