package video_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// logSink collects a Client's log lines (the handlers under test run on
// the test's goroutine).
type logSink struct{ bytes.Buffer }

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&s.Buffer, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestStatusCallbackWithoutAccount: a signed callback that names no account
// gets 400 and changes nothing, as one naming another account does.
func TestStatusCallbackWithoutAccount(t *testing.T) {
	vq, token := offline(t)
	h := vq.StatusCallbackHandler()
	const target = "http://example.test/status"
	v := roomForm(vq.AccountSID(), video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
	v.Del("AccountSid")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedPost(token, target, v))
	if w.Code != http.StatusBadRequest {
		t.Fatalf("no AccountSid: status %d, want 400", w.Code)
	}
	if n := mustUsed(t, vq, quota.Rooms) + mustUsed(t, vq, quota.Participants); n != 0 {
		t.Fatalf("no AccountSid: %d slots taken", n)
	}
}

// TestStatusCallbackClockSkew: a callback whose Timestamp is ahead of the
// host's clock by more than the allowed skew (a minute by default) gets
// 400, changes nothing and is logged once with the skew seen; the skew is
// configurable.
func TestStatusCallbackClockSkew(t *testing.T) {
	var logs logSink
	vq, token := offline(t, video.WithLogger(logs.logger()))
	const target = "http://example.test/status"
	// offline's clock reads 10:01:00; 61 s ahead is 10:02:01.
	ahead := roomForm(vq.AccountSID(), video.EventRoomCreated, testRoom, "", "2026-11-26T10:02:01Z")
	h := vq.StatusCallbackHandler()
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, target, ahead))
		if w.Code != http.StatusBadRequest {
			t.Fatalf("61 s ahead: status %d, want 400", w.Code)
		}
	}
	if n := mustUsed(t, vq, quota.Rooms); n != 0 {
		t.Fatalf("61 s ahead: %d Rooms held", n)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "ahead=1m1s") ||
		!strings.Contains(logs.String(), "WithMaxClockSkew") {
		t.Fatalf("want one Error line naming the skew (1m1s) and WithMaxClockSkew, got %d:\n%s", n, logs.String())
	}
	lenient := vq.StatusCallbackHandler(video.WithMaxClockSkew(2 * time.Minute))
	w := httptest.NewRecorder()
	lenient.ServeHTTP(w, signedPost(token, target, ahead))
	if w.Code != http.StatusOK || mustUsed(t, vq, quota.Rooms) != 1 {
		t.Fatalf("with WithMaxClockSkew(2m): status %d, Rooms %d; want 200 and 1", w.Code, mustUsed(t, vq, quota.Rooms))
	}
	// WithMaxClockSkew(0) is refused as every invalid option is (see
	// TestHandlerOptionsValidated).
}

// TestSignatureFailureLogNamesURL: a signature that does not match is
// logged with the URL it was checked against (query values left out) and
// what to set; the auth token and the signature never appear.
func TestSignatureFailureLogNamesURL(t *testing.T) {
	var logs logSink
	vq, token := offline(t, video.WithLogger(logs.logger()))
	h := vq.StatusCallbackHandler()
	v := roomForm(vq.AccountSID(), video.EventRoomCreated, testRoom, "", "2026-11-26T10:00:00Z")
	// Twilio signed the public URL; the request arrives at the proxy's.
	r := signedPost(token, "https://public.example.com/hooks/status?tenant=acme&key=s3cret", v)
	r.Host = "10.0.0.7:8080"
	r.URL.Host = ""
	r.TLS = nil // the proxy ended TLS
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", w.Code)
	}
	out := logs.String()
	for _, want := range []string{"checked_url=", "http://10.0.0.7:8080/hooks/status?tenant=…&key=…", "WithPublicURL"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{token, "s3cret", r.Header.Get("X-Twilio-Signature")} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows a secret %q:\n%s", secret, out)
		}
	}
}

// TestCallbacksAfterClose: after Close every delivery, a duplicate of one
// applied before as well as a new one, gets 503 and changes nothing.
func TestCallbacksAfterClose(t *testing.T) {
	vq, token := offline(t)
	h := vq.StatusCallbackHandler()
	alerts := vq.AlertHandler()
	const target = "http://example.test/status"
	first := roomForm(vq.AccountSID(), video.EventRoomCreated, testRoom, "", "2026-11-26T10:00:00Z")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedPost(token, target, first))
	if w.Code != http.StatusOK {
		t.Fatalf("before Close: status %d", w.Code)
	}
	vq.Close()
	other := roomForm(vq.AccountSID(), video.EventRoomCreated, "RM"+strings.Repeat("a", 32), "", "2026-11-26T10:00:01Z")
	for name, form := range map[string]url.Values{"duplicate": first, "new": other} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, target, form))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s callback after Close: status %d, want 503", name, w.Code)
		}
	}
	w = httptest.NewRecorder()
	alerts.ServeHTTP(w, signedPost(token, "http://example.test/alerts", first))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("Debugger event after Close: status %d, want 503", w.Code)
	}
}

// TestNewRefusesPaddedSecrets: an auth token or API key secret with a
// newline kept from a secret file is refused by New with a *ConfigError
// naming where it was; the secret itself is not in the message.
func TestNewRefusesPaddedSecrets(t *testing.T) {
	const acct = "AC0123456789abcdef0123456789abcdef"
	const secret = "0123456789abcdef0123456789abcdef"
	cases := []struct {
		name, option string
		make         func() (*video.Client, error)
	}{
		{"auth token", "New", func() (*video.Client, error) { return video.New(acct, secret+"\n") }},
		{"API key secret", "WithAPIKey", func() (*video.Client, error) {
			return video.New(acct, secret, video.WithAPIKey("SK0123456789abcdef0123456789abcdef", " "+secret))
		}},
	}
	for _, c := range cases {
		vq, err := c.make()
		var ce *video.ConfigError
		if vq != nil || !errors.As(err, &ce) || ce.Option != c.option || !strings.Contains(err.Error(), "white space") {
			t.Errorf("%s with a newline: %v; want a *video.ConfigError for %s saying white space", c.name, err, c.option)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the secret: %v", c.name, err)
		}
	}
}

// TestNilContextTyped: a nil ctx is refused with a *ValidationError naming
// the parameter ctx, and nothing is sent.
func TestNilContextTyped(t *testing.T) {
	srv, vq := setup(t, videotest.Options{})
	//lint:ignore SA1012 a nil ctx on purpose
	_, err := vq.CreateRoom(nil, room(""))
	var ve *video.ValidationError
	if !errors.As(err, &ve) || ve.Param != "ctx" {
		t.Fatalf("CreateRoom(nil): %v; want a *video.ValidationError for ctx", err)
	}
	//lint:ignore SA1012 a nil ctx on purpose
	if _, err := vq.JoinToken(nil, "standup", "alice"); !errors.As(err, &ve) || ve.Param != "ctx" {
		t.Fatalf("JoinToken(nil): %v; want a *video.ValidationError for ctx", err)
	}
	if n := srv.Stats().TotalRequests; n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// TestUsageJSON: Usage encodes with documented snake_case names.
func TestUsageJSON(t *testing.T) {
	vq, _ := offline(t, video.WithLimits(quota.Limits{ConcurrentRooms: 7}))
	b, err := json.Marshal(vq.Usage())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	rooms, _ := got["rooms"].(map[string]any)
	writes, _ := got["writes"].(map[string]any)
	rate, _ := writes["rate"].(map[string]any)
	if rooms["limit"] != 7.0 || rooms["used"] != 0.0 || rate["per_second"] == nil || got["local_refusals"] == nil {
		t.Fatalf("Usage as JSON: %s", b)
	}
}

// TestOwnRoomCreatedNotStale: the room-created of a Room the Client has
// just created is its first event, so it is passed on with Stale unset,
// although Twilio stamped it before the create's answer arrived.
func TestOwnRoomCreatedNotStale(t *testing.T) {
	var (
		mu     sync.Mutex
		events []video.RoomEvent
	)
	e := newCBEnv(t, nil, []video.HandlerOption{video.OnRoomEvent(func(ev video.RoomEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})})
	r, err := e.vq.CreateRoom(context.Background(), room("fresh").SetStatusCallback(e.statusURL()))
	if err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || events[0].Event != video.EventRoomCreated || events[0].RoomSID != *r.Sid || events[0].Stale {
		t.Fatalf("events %+v; want one room-created of %s, not stale", events, *r.Sid)
	}
}
