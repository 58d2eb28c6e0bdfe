package video_test

import (
	"context"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestSharedStoreTokenOfOneReplicaCallbackOfAnother: two replicas on one
// Redis store, as behind a load balancer: replica A mints alice's token (a
// Participant slot reserved under ParticipantReservationKey), Twilio's
// participant-connected callback reaches replica B. The account counts one
// Participant, not the holding and the token's reservation beside it until
// the token lapses an hour later; likewise the Room the token opened.
func TestSharedStoreTokenOfOneReplicaCallbackOfAnother(t *testing.T) {
	rs := redistest.Start(t)
	prefix := redistest.Prefix(t)
	store := func() video.Option {
		st, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		return video.WithStore(st)
	}
	e := newCBEnv(t, churnOptions(videotest.Faults{}), nil, store()) // replica B: the callbacks' endpoint
	keySID, keySecret := e.srv.APIKey()
	a, err := video.New(e.srv.AccountSID(), e.srv.AuthToken(), video.WithBaseURL(e.srv.URL()),
		video.WithAPIKey(keySID, keySecret), store(),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx := context.Background()

	tok, err := a.JoinToken(ctx, "lobby", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ConnectWithToken(tok, "lobby"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	u := e.vq.Usage()
	t.Logf("after alice connected: rooms used %d (pending %d), emulator %d", u.Rooms.Used, u.Rooms.Pending, e.srv.Stats().RoomsNow)
	t.Logf("after alice connected: participants used %d (pending %d), emulator %d", u.Participants.Used, u.Participants.Pending, e.srv.Stats().ParticipantsNow)
	if want := e.srv.Stats().RoomsNow; u.Rooms.Used != want {
		t.Errorf("the account counts %d Rooms (pending %d), the emulator has %d in progress: the token's Room reservation on A outlives the Room's creation seen by B",
			u.Rooms.Used, u.Rooms.Pending, want)
	}
	if want := e.srv.Stats().ParticipantsNow; u.Participants.Used != want {
		t.Errorf("the account counts %d Participants (pending %d), the emulator has %d connected: the token's reservation on A outlives alice's connect seen by B",
			u.Participants.Used, u.Participants.Pending, want)
	}
}
