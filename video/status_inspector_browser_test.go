package video_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/videoquota/videoquota/internal/browsertest"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
)

// TestParticipantConnectedInInspectorShowsOnStatusPage drives both pages in
// one headless Chromium: a Participant connected through the emulator
// inspector's form reaches the Client by the emulator's status callback
// (the Client's own StatusCallbackHandler, signed with the account's token),
// and the Client's status page, loaded afterwards in the same browser, counts
// it. Neither page logs a console error.
func TestParticipantConnectedInInspectorShowsOnStatusPage(t *testing.T) {
	b := browsertest.New(t)
	e := newCBEnv(t, nil, nil, video.WithLimits(quota.Limits{ConcurrentRooms: 10, ConcurrentParticipants: 50,
		ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	e.mux.Handle("/ops/quota", e.vq.StatusHandler())
	ctx := context.Background()
	if _, err := e.vq.CreateRoom(ctx, room("standup").SetStatusCallback(e.statusURL())); err != nil {
		t.Fatal(err)
	}

	// The inspector sits behind the control API's Basic auth: the browser
	// sends it while on the inspector only.
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(e.srv.AccountSID()+":"+e.srv.AuthToken()))
	if _, err := chromedp.Call(b.Context(), network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Do(chromedp.Navigate(e.srv.URL()+"/_videotest/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="live"]`)),
		chromedp.SetValue(chromedp.CSS(`#connect-form input[name=room]`), "standup"),
		chromedp.SetValue(chromedp.CSS(`#connect-form input[name=identity]`), "from-the-inspector"),
		chromedp.Click(chromedp.CSS(`#connect-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.msg.ok`)),
	); err != nil {
		t.Fatalf("connecting a Participant from the inspector: %v", err)
	}
	if _, err := chromedp.Call(b.Context(), network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{}}); err != nil {
		t.Fatal(err)
	}

	// The callback reaches the Client's handler (the emulator delivers it
	// on its own goroutine: FlushCallbacks waits for it).
	e.flush(t)
	if used, _, err := e.vq.Ledger().Used(ctx, quota.Participants); err != nil || used != 1 {
		t.Fatalf("the Client's ledger holds %d Participants after the callback (%v), want 1", used, err)
	}

	if err := b.Do(chromedp.Navigate(e.hs.URL + "/ops/quota")); err != nil {
		t.Fatal(err)
	}
	shown := `document.querySelectorAll("#resources .big")[1]?.textContent`
	ok, err := chromedpRun[bool](b, chromedp.Poll[bool](shown+` === "1 / 50"`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !ok {
		got, _ := browsertest.Eval[string](b, shown+` ?? ""`)
		t.Fatalf("the status page shows Participants as %q, want 1 / 50 (%v)", got, err)
	}
	b.CheckConsole()
}
