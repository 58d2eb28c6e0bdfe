package video_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestDebuggerEventOlderThanRetentionIgnored: Twilio's signature does not
// cover time, so a signed Debugger event can be replayed (after a restart,
// or to another replica whose memory of SIDs is empty). A 53119 older than
// the retention, as the status callbacks' is, changes nothing: Rooms are
// not marked full (JoinToken and CreateRoom are not refused locally with
// nothing in use) and the threshold funcs are not called.
func TestDebuggerEventOlderThanRetentionIgnored(t *testing.T) {
	var log eventLog
	vq, token := offline(t, video.WithThresholds(log.add), video.WithAPIKey("SK0123456789abcdef0123456789abcdef", "secret"))
	f := alertForm(vq.AccountSID(), "NO0123456789abcdef0123456789abcdef", `{"error_code":"53119"}`)
	f.Set("Timestamp", "2026-11-19T10:00:00Z") // a week before the Client's clock
	w := httptest.NewRecorder()
	vq.AlertHandler().ServeHTTP(w, signedPost(token, "http://x.test/alerts", f))
	t.Logf("replayed week-old 53119: HTTP %d", w.Code)
	_, err := vq.JoinToken(context.Background(), "standup", "alice")
	var ex *quota.ExceededError
	if errors.As(err, &ex) {
		t.Errorf("JoinToken with 0 Rooms in use after a week-old 53119: %v", err)
	}
	vq.Close()
	if got := log.all(); len(got) != 0 {
		t.Errorf("threshold funcs got %d event(s) from a week-old alert: %+v", len(got), got)
	}
	_ = http.StatusOK
}
