package videotest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	monitor "github.com/twilio/twilio-go/rest/monitor/v1"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

var epoch = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newTest starts a server with rate limits off (unless opts set them) and a
// fake clock, and returns it with twilio-go's video and monitor services.
func newTest(t *testing.T, opts videotest.Options) (*videotest.Server, *openapi.ApiService, *monitor.ApiService, *videotest.FakeClock) {
	t.Helper()
	var fc *videotest.FakeClock
	if opts.Clock == nil {
		fc = videotest.NewFakeClock(epoch)
		opts.Clock = fc
	} else {
		fc, _ = opts.Clock.(*videotest.FakeClock)
	}
	if opts.ReadsPerSecond == 0 {
		opts.ReadsPerSecond = -1
	}
	if opts.WritesPerSecond == 0 {
		opts.WritesPerSecond = -1
	}
	srv := videotest.NewServer(opts)
	t.Cleanup(srv.Close)
	c := srv.Client()
	return srv, openapi.NewApiServiceWithClient(c), monitor.NewApiServiceWithClient(c), fc
}

// restErr asserts err is a *client.TwilioRestError with code and status.
func restErr(t *testing.T, err error, code, status int) {
	t.Helper()
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T), want TwilioRestError %d", err, err, code)
	}
	if te.Code != code || te.Status != status {
		t.Fatalf("error = code %d status %d (%s), want code %d status %d", te.Code, te.Status, te.Message, code, status)
	}
	if te.MoreInfo == "" || te.Message == "" {
		t.Fatalf("error body incomplete: %+v", te)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRoomsAndParticipantsThroughTwilioGo(t *testing.T) {
	srv, v, _, _ := newTest(t, videotest.Options{})
	room, err := v.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("standup"), Type: ptr("group"), MaxParticipants: ptr(3)})
	if err != nil {
		t.Fatal(err)
	}
	if room.Sid == nil || len(*room.Sid) != 34 || *room.Status != "in-progress" || room.MaxParticipants != 3 ||
		*room.UniqueName != "standup" || room.EmptyRoomTimeout != 5 || room.UnusedRoomTimeout != 5 ||
		room.DateCreated == nil || room.DateCreated.Location() != time.UTC || !room.DateCreated.Equal(epoch) {
		t.Fatalf("room = %+v", room)
	}
	got, err := v.FetchRoom("standup")
	if err != nil || *got.Sid != *room.Sid {
		t.Fatalf("fetch by name: %v %v", got, err)
	}
	psid, err := srv.Connect("standup", "alice")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := v.ListRoomParticipant(*room.Sid, &openapi.ListRoomParticipantParams{})
	if err != nil || len(parts) != 1 || *parts[0].Sid != psid || *parts[0].Identity != "alice" {
		t.Fatalf("participants = %+v, %v", parts, err)
	}
	p, err := v.FetchRoomParticipant(*room.Sid, "alice")
	if err != nil || *p.Sid != psid || *p.Status != "connected" || p.Duration != nil {
		t.Fatalf("fetch participant: %+v %v", p, err)
	}
	p, err = v.UpdateRoomParticipant(*room.Sid, psid, &openapi.UpdateRoomParticipantParams{Status: ptr("disconnected")})
	if err != nil || *p.Status != "disconnected" || p.Duration == nil || p.EndTime == nil {
		t.Fatalf("kick: %+v %v", p, err)
	}
	if st := srv.Stats(); st.ParticipantsNow != 0 || st.ParticipantsPeak != 1 || st.RoomsNow != 1 {
		t.Fatalf("stats = %+v", st)
	}
	done, err := v.UpdateRoom(*room.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")})
	if err != nil || *done.Status != "completed" || done.EndTime == nil || done.Duration == nil {
		t.Fatalf("complete: %+v %v", done, err)
	}
	_, err = v.FetchRoom("standup")
	restErr(t, err, 20404, 404)
	rooms, err := v.ListRoom(&openapi.ListRoomParams{Status: ptr("completed")})
	if err != nil || len(rooms) != 1 {
		t.Fatalf("completed rooms = %d, %v", len(rooms), err)
	}
	_, err = v.UpdateRoom(*room.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")})
	restErr(t, err, 53112, 400)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestLogsCarryNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	h := newHook(t)
	srv, v, _, _ := newTest(t, videotest.Options{ConcurrentRooms: 1, DebuggerWebhook: "http://127.0.0.1:1/unreachable",
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{StatusCallback: ptr(h.URL)}))
	_, _ = v.CreateRoom(nil)
	must(v.UpdateRoom(*r.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	flush(t, srv)
	_, secret := srv.APIKey()
	logs := buf.String()
	if !strings.Contains(logs, "room created") || !strings.Contains(logs, "callback delivery failed") {
		t.Fatalf("expected debug logs, got:\n%s", logs)
	}
	if strings.Contains(logs, srv.AuthToken()) || strings.Contains(logs, secret) {
		t.Fatal("a secret reached the logs")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestStartRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]videotest.Options{
		"sid not AC":    {AccountSID: "XX00000000000000000000000000000000"},
		"sid symbols":   {AccountSID: "AC-0"},
		"sid short":     {AccountSID: "AC42"},
		"sid not hex":   {AccountSID: "AC0123456789abcdef0123456789abcdeg"},
		"key sid short": {APIKeySID: "SK42", APIKeySecret: "secret"},
		"token symbols": {AuthToken: "s3cr3t!"},
		"adhoc type":    {AdHocRoomType: "huge"},
		"adhoc method":  {AdHocStatusCallbackMethod: "PUT"},
		"bad address":   {Addr: "256.0.0.1:0"},
	} {
		srv, err := videotest.Start(o)
		if err == nil {
			srv.Close()
			t.Fatalf("%s: Start accepted %+v", name, o)
		}
	}
	srv, err := videotest.Start(videotest.Options{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "tok3n"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.AccountSID() != "AC0123456789abcdef0123456789abcdef" || srv.AuthToken() != "tok3n" || !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("server = %s %s %s", srv.AccountSID(), srv.AuthToken(), srv.URL())
	}
}

// TestShutdownDeliversQueuedCallbacks: Shutdown refuses new connections,
// then waits for the callbacks already queued, which Close would discard.
func TestShutdownDeliversQueuedCallbacks(t *testing.T) {
	h := newHook(t)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // registered after newHook's Close, so it runs before it
	inner := h.Config.Handler
	h.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // hold every delivery until the server is shutting down
		inner.ServeHTTP(w, r)
	})
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true, AdHocStatusCallback: h.URL + "/cb"})
	if _, err := srv.Connect("r", "a"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(srv.URL() + "/_videotest/health")
		if err != nil {
			break // no longer accepting
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting during Shutdown")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v before the queued callbacks were delivered", err)
	default:
	}
	open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cbs := srv.Callbacks(0)
	if len(cbs) != 2 || !cbs[0].Delivered || !cbs[1].Delivered || len(h.all()) != 2 {
		t.Fatalf("callbacks %+v, want room-created and participant-connected delivered", cbs)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown = %v", err)
	}
}
