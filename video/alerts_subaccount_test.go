package video_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestAlertOfSubaccountLeavesParentQuota: a Debugger event raised by a
// subaccount (AccountSid the subaccount's, ParentAccountSid this Client's)
// is passed to the OnAlert funcs but does not touch this Client's ledger:
// each Account SID has its own quotas, not shared with its subaccounts
// (https://www.twilio.com/docs/video/guide-to-scaling-applications), so a
// subaccount's 53119 does not make the parent's Rooms full, nor its 53121
// fire the parent's threshold funcs.
func TestAlertOfSubaccountLeavesParentQuota(t *testing.T) {
	var log eventLog
	vq, token := offline(t, video.WithThresholds(log.add))
	var seen []video.AlertEvent
	h := vq.AlertHandler(video.OnAlert(func(ev video.AlertEvent) { seen = append(seen, ev) }))
	const target = "http://example.test/alerts"
	sub := "AC" + strings.Repeat("5", 32)
	for i, payload := range []string{`{"error_code":"53119"}`, `{"error_code":"53206"}`, `{"error_code":"53121","more_info":{"resource":"rooms"}}`} {
		form := alertForm(sub, "NO0123456789abcdef0123456789abcde"+string(rune('0'+i)), payload)
		form.Set("ParentAccountSid", vq.AccountSID())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, target, form))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d, want 200", payload, w.Code)
		}
	}
	if len(seen) != 3 || seen[0].AccountSID != sub {
		t.Fatalf("OnAlert got %+v, want the 3 subaccount events", seen)
	}
	for _, res := range []quota.Resource{quota.Rooms, quota.Participants} {
		if _, full, _ := vq.Ledger().Used(context.Background(), res); full {
			t.Errorf("%s of the parent marked full by a subaccount's event", res)
		}
	}
	vq.Close()
	if n := len(log.count(quota.SourceTwilio, quota.CodeRoomsExceeded)) + len(log.count(quota.SourceTwilio, quota.CodeParticipantsExceeded)) + len(log.count(quota.SourceTwilio, quota.CodeApproachingQuota)); n != 0 {
		t.Fatalf("%d threshold events of the parent from a subaccount's alerts", n)
	}
}
