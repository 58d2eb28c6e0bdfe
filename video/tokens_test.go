package video_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// claims decodes a token's payload (the emulator verifies the signature).
func claims(t testing.TB, tok string) (nbf, exp int64, room, identity string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Nbf, Exp int64
		Grants   struct {
			Identity string
			Video    struct{ Room string }
		}
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Nbf, c.Exp, c.Grants.Video.Room, c.Grants.Identity
}

func withKey(srv *videotest.Server) video.Option {
	sid, secret := srv.APIKey()
	return video.WithAPIKey(sid, secret)
}

func TestJoinTokenNeedsAPIKey(t *testing.T) {
	vq, _ := offline(t)
	tok, err := vq.JoinToken(context.Background(), "room", "alice")
	if !errors.Is(err, video.ErrNoAPIKey) || tok != "" {
		t.Fatalf("JoinToken without API key: %q, %v", tok, err)
	}
	if n := mustUsed(t, vq, quota.Participants); n != 0 {
		t.Fatalf("a slot was reserved: %d", n)
	}
}

func TestJoinTokenValidation(t *testing.T) {
	vq, _ := offline(t, video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"))
	long := strings.Repeat("x", 129)
	for _, c := range []struct{ room, identity, param string }{
		{"room", "", "identity"},
		{"room", long, "identity"},
		{"", "alice", "room"},
		{long, "alice", "room"},
		{"a/b", "alice", "room"},
	} {
		_, err := vq.JoinToken(context.Background(), c.room, c.identity)
		var ve *video.ValidationError
		if !errors.As(err, &ve) || ve.Param != c.param || ve.Method != "JoinToken" {
			t.Errorf("JoinToken(%.10q, %.10q): %v, want a ValidationError for %s", c.room, c.identity, err, c.param)
		}
	}
	if _, err := vq.JoinToken(context.Background(), "room", "alice", video.WithTokenTTL(0)); err == nil {
		t.Error("WithTokenTTL(0) accepted")
	}
	if n := mustUsed(t, vq, quota.Participants) + mustUsed(t, vq, quota.Rooms); n != 0 {
		t.Fatalf("invalid calls reserved %d slots", n)
	}
}

// TestJoinTokenRefusesPastQuota: the 4th token past a quota of 3
// Participants is refused with the typed error and no request reaches the
// emulator; a Room refusal gives back nothing it took.
func TestJoinTokenRefusesPastQuota(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true})
	t.Cleanup(srv.Close)
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()), withKey(srv),
		video.WithLimits(quota.Limits{ConcurrentParticipants: 3, ConcurrentRooms: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer vq.Close()
	ctx := context.Background()
	for i := range 3 {
		if _, err := vq.JoinToken(ctx, "standup", fmt.Sprintf("u%d", i)); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	// The same identity again takes no further slot.
	if _, err := vq.JoinToken(ctx, "standup", "u0"); err != nil {
		t.Fatalf("repeat token: %v", err)
	}
	tok, err := vq.JoinToken(ctx, "standup", "u3")
	var ex *quota.ExceededError
	if !errors.As(err, &ex) || ex.Resource != quota.Participants || ex.Source != quota.SourceLocal ||
		ex.Code != 53206 || tok != "" || !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("4th token: %q, %v; want a local participants refusal", tok, err)
	}
	if got := vq.Usage().LocalRefusals; got != 1 {
		t.Errorf("Usage refused %d, want 1", got)
	}
	if n := srv.Stats().TotalRequests; n != 0 {
		t.Fatalf("%d requests reached the emulator", n)
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 1 || p != 3 {
		t.Fatalf("rooms %d participants %d, want 1 and 3", r, p)
	}

	// Rooms: "standup" holds one of 2; a second room fits, a third does not,
	// and its refusal takes no Participant slot.
	vq2, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()), withKey(srv),
		video.WithLimits(quota.Limits{ConcurrentRooms: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer vq2.Close()
	for i, want := range []bool{true, true, false} {
		_, err := vq2.JoinToken(ctx, fmt.Sprintf("room-%d", i), "alice")
		if (err == nil) != want {
			t.Fatalf("room %d: %v", i, err)
		}
		if !want && (!errors.As(err, &ex) || ex.Resource != quota.Rooms) {
			t.Fatalf("room %d: %v, want a rooms refusal", i, err)
		}
	}
	if p := mustUsed(t, vq2, quota.Participants); p != 2 {
		t.Fatalf("participants %d after a room refusal, want 2", p)
	}
}

// TestJoinTokenAcceptedByEmulator: the emulator's ConnectWithToken verifies
// the token (signature, issuer, expiry, grants) and creates the ad-hoc
// Room; the callbacks then turn the reservations into holdings without
// counting anything twice.
func TestJoinTokenAcceptedByEmulator(t *testing.T) {
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) {
		o.AdHocRooms = true
		o.AdHocStatusCallback = e.statusURL()
	}, nil)
	vq := e.vq
	ctx := context.Background()

	tok, err := vq.JoinToken(ctx, "standup", "alice", video.WithTokenTTL(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	nbf, exp, room, id := claims(t, tok)
	if exp-nbf != 600 || room != "standup" || id != "alice" {
		t.Fatalf("claims nbf %d exp %d room %q identity %q; want a 10 min token for alice in standup", nbf, exp, room, id)
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 1 || p != 1 {
		t.Fatalf("reserved rooms %d participants %d, want 1 and 1", r, p)
	}
	var verr *videotest.Error
	if _, err := e.srv.ConnectWithToken(tok, "other-room"); !errors.As(err, &verr) || verr.Code != 20101 {
		t.Fatalf("token used for another room: %v, want 20101", err)
	}
	psid, err := e.srv.ConnectWithToken(tok, "standup")
	if err != nil {
		t.Fatalf("ConnectWithToken: %v", err)
	}
	long, err := vq.JoinToken(ctx, "standup", "bob", video.WithTokenTTL(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if nbf, exp, _, _ := claims(t, long); exp-nbf != int64(video.MaxTokenTTL/time.Second) {
		t.Fatalf("48 h token lasts %d s, want clamped to 86400", exp-nbf)
	}
	if _, err := e.srv.ConnectWithToken(long, "standup"); err != nil {
		t.Fatalf("clamped token refused: %v", err)
	}
	e.flush(t)
	if held, _ := vq.Ledger().Holds(ctx, quota.Participants, psid); !held {
		t.Fatal("participant-connected did not hold the Participant")
	}
	if held, _ := vq.Ledger().Holds(ctx, quota.Participants, video.ParticipantReservationKey("standup", "alice")); held {
		t.Fatal("the reservation is still pending after participant-connected")
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 1 || p != 2 {
		t.Fatalf("after connecting: rooms %d participants %d, want 1 and 2", r, p)
	}
	if st := e.srv.Stats(); st.RoomsNow != 1 || st.ParticipantsNow != 2 {
		t.Fatalf("emulator: %+v", st)
	}
}

// fakeClock is a manual clock for the Client and its store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestJoinTokenReservationExpires: an unused token's slots lapse at the end
// of the join window, or at the token's expiry when that comes first.
func TestJoinTokenReservationExpires(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	vq, _ := offline(t, video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"),
		video.WithClock(clk), video.WithStore(memStore(t, memstore.WithClock(clk))),
		video.WithJoinWindow(10*time.Minute))
	ctx := context.Background()
	if _, err := vq.JoinToken(ctx, "short", "alice", video.WithTokenTTL(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := vq.JoinToken(ctx, "long", "bob", video.WithTokenTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5*time.Minute - time.Second)
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 2 || p != 2 {
		t.Fatalf("before expiry: rooms %d participants %d, want 2 and 2", r, p)
	}
	clk.Advance(time.Second)
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 1 || p != 1 {
		t.Fatalf("at the short token's expiry: rooms %d participants %d, want 1 and 1", r, p)
	}
	clk.Advance(5*time.Minute - time.Second)
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 1 || p != 1 {
		t.Fatalf("before the join window ends: rooms %d participants %d, want 1 and 1", r, p)
	}
	clk.Advance(time.Second)
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 0 || p != 0 {
		t.Fatalf("at the end of the join window (the hour-long token still valid): rooms %d participants %d", r, p)
	}
}

// ExampleClient_JoinToken mints a token for an ad-hoc Room and joins it on
// the emulator, as a client SDK would.
func ExampleClient_JoinToken() {
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true})
	defer srv.Close()
	keySID, keySecret := srv.APIKey()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithAPIKey(keySID, keySecret), video.WithLimits(quota.Limits{ConcurrentParticipants: 1}))
	if err != nil {
		panic(err)
	}
	defer vq.Close()
	ctx := context.Background()

	tok, err := vq.JoinToken(ctx, "daily-standup", "alice", video.WithTokenTTL(15*time.Minute))
	if err != nil {
		panic(err)
	}
	if _, err := srv.ConnectWithToken(tok, "daily-standup"); err != nil {
		panic(err)
	}
	fmt.Println("alice joined; rooms in progress:", srv.Stats().RoomsNow)

	_, err = vq.JoinToken(ctx, "daily-standup", "bob")
	fmt.Println("bob refused:", errors.Is(err, quota.ErrExceeded), "- requests sent:", srv.Stats().TotalRequests)
	// Output:
	// alice joined; rooms in progress: 1
	// bob refused: true - requests sent: 0
}

// TestJoinTokenWaitsForCapacity: asked to wait, JoinToken gets the slot a
// participant-disconnected callback frees while it waits.
func TestJoinTokenWaitsForCapacity(t *testing.T) {
	vq, token := offline(t, video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"),
		video.WithLimits(quota.Limits{ConcurrentParticipants: 1}))
	h := vq.StatusCallbackHandler()
	post := func(event string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, "http://x.test/s", roomForm(vq.AccountSID(), event, testRoom, testPart, "2026-11-26T10:00:00Z")))
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d", event, w.Code)
		}
	}
	post(video.EventParticipantConnected)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := vq.JoinToken(ctx, "unit", "next"); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("without waiting: %v, want refused", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := vq.JoinToken(video.WaitForCapacity(ctx), "unit", "next")
		done <- err
	}()
	waitForGoroutines(t, 1, "quota.(*Ledger).ReserveWait") // it waits for capacity
	post(video.EventParticipantDisconnected)
	if err := <-done; err != nil {
		t.Fatalf("waiting JoinToken: %v", err)
	}
	if p := mustUsed(t, vq, quota.Participants); p != 1 {
		t.Fatalf("participants %d, want the one reservation", p)
	}
}
