package video_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/video"
)

// TestStatusCallbackBodies: a body of unknown length (chunked) is read
// like one that declares it, within WithMaxBody either way; requests
// alternating between two addresses are each checked against their own URL
// (the handler reuses the URL it built only for the same address); the
// handler's reused buffers leave no request's values in another's event.
func TestStatusCallbackBodies(t *testing.T) {
	vq, token := offline(t)
	var got []video.RoomEvent
	h := vq.StatusCallbackHandler(video.WithMaxBody(1024), video.OnRoomEvent(func(e video.RoomEvent) { got = append(got, e) }))
	serve := func(r *http.Request) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	chunked := func(r *http.Request) *http.Request {
		r.ContentLength = -1
		r.Body = io.NopCloser(r.Body) // no length known to the reader either
		return r
	}
	for i, target := range []string{"http://a.example/status", "http://b.example/status", "http://a.example/status", "http://a.example/status?x=1"} {
		part := fmt.Sprintf("PA%032x", i+1)
		form := roomForm(vq.AccountSID(), video.EventParticipantConnected, testRoom, part, "2026-11-26T10:00:00Z")
		r := signedPost(token, target, form)
		if i%2 == 1 {
			r = chunked(r)
		}
		if code := serve(r); code != http.StatusOK {
			t.Fatalf("request %d to %s: status %d", i, target, code)
		}
		// The same body signed for the other host is refused.
		other := strings.Replace(target, ".example", "-other.example", 1)
		r = signedPost(token, other, form)
		r.Host = strings.Split(target, "/")[2]
		if code := serve(r); code != http.StatusForbidden {
			t.Fatalf("request %d signed for %s, sent to %s: status %d, want 403", i, other, target, code)
		}
	}
	for i, e := range got {
		if want := fmt.Sprintf("PA%032x", i+1); e.ParticipantSID != want || e.Params.Get("ParticipantSid") != want {
			t.Errorf("event %d: ParticipantSID %s (Params %s), want %s", i, e.ParticipantSID, e.Params.Get("ParticipantSid"), want)
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d events, want 4", len(got))
	}
	big := roomForm(vq.AccountSID(), video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
	big.Set("Padding", strings.Repeat("x", 2048))
	for _, r := range []*http.Request{signedPost(token, "http://a.example/status", big), chunked(signedPost(token, "http://a.example/status", big))} {
		if code := serve(r); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized body (length %d): status %d, want 413", r.ContentLength, code)
		}
	}
	if u := vq.Usage(); u.Participants.Used != 4 {
		t.Fatalf("ledger holds %d participants, want 4", u.Participants.Used)
	}
}
