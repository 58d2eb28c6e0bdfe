package video_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// FuzzAccountsRoutesToSignerOnly: whatever the query and body of a request
// signed with one account's token (the attacker's: Y), Accounts' handlers
// never change another account's (X's) ledger, however AccountSid is
// spelt, repeated or split between query and body.
func FuzzAccountsRoutesToSignerOnly(f *testing.F) {
	const (
		xSID   = "AC0000000000000000000000000000000a"
		ySID   = "AC0000000000000000000000000000000b"
		xTok   = "0123456789abcdef0123456789abcdef"
		yTok   = "fedcba9876543210fedcba9876543210"
		target = "https://hooks.example.com/cb"
	)
	a, err := video.NewAccounts(func(_ context.Context, sid string) (video.Account, error) {
		switch sid {
		case xSID:
			return video.Account{AuthToken: xTok}, nil
		case ySID:
			return video.Account{AuthToken: yTok}, nil
		}
		return video.Account{}, video.ErrUnknownAccount
	}, video.WithBaseURL("http://127.0.0.1:1"), video.WithClock(clockFunc(func() time.Time { return offlineNow })))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	ctx := context.Background()
	xc, err := a.Client(ctx, xSID)
	if err != nil {
		f.Fatal(err)
	}
	status, alerts := a.StatusCallbackHandler(), a.AlertHandler()
	ts := offlineNow.Add(-time.Minute).Format(time.RFC3339)
	room := func(acct string) string {
		return roomForm(acct, video.EventRoomCreated, testRoom, "", ts).Encode()
	}
	alert := func(acct string) string {
		return alertForm(acct, "NO0123456789abcdef0123456789abcdef", `{"error_code":"53119"}`).Encode()
	}
	for _, seed := range []struct{ query, body string }{
		{"", room(ySID)},
		{"", room(xSID)},
		{"AccountSid=" + xSID, room(ySID)},
		{"", "AccountSid=" + ySID + "&" + room(xSID)},
		{"", "Account%53id=" + xSID + "&" + room(ySID)},
		{"", strings.Replace(room(xSID), "AccountSid=", "AccountSid="+ySID+";AccountSid=", 1)},
		{"", "AccountSid=" + ySID + "&ParentAccountSid=" + xSID + "&" + alert(xSID)},
		{"", alert(ySID) + "&ParentAccountSid=" + xSID},
		{"", "AccountSid=" + strings.ToLower(ySID) + "&" + room(xSID)},
		{"", "AccountSid=%41C" + ySID[2:] + "&" + room(xSID)},
	} {
		f.Add(seed.query, seed.body)
	}
	f.Fuzz(func(t *testing.T, query, body string) {
		if len(body) > 4096 || len(query) > 1024 {
			return
		}
		u := target
		if query != "" {
			u += "?" + query
		}
		if _, err := url.Parse(u); err != nil {
			return
		}
		form, _ := url.ParseQuery(body)
		for _, h := range []http.Handler{status, alerts} {
			r := httptest.NewRequest(http.MethodPost, u, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Twilio-Signature", videotest.Signature(yTok, u, form))
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		for _, res := range []quota.Resource{quota.Rooms, quota.Participants} {
			n, full, err := xc.Ledger().Used(ctx, res)
			if err != nil || n != 0 || full {
				t.Fatalf("a request signed by another account changed %s of X: used %d, full %v, %v", res, n, full, err)
			}
		}
	})
}
