package videotest_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/internal/browsertest"
	"github.com/videoquota/videoquota/video/videotest"
)

// openInspector starts a headless browser that sends the control API's
// Basic auth with every request (the page, its assets, its event stream and
// its forms), opens the inspector and waits for the live stream to connect.
func openInspector(t *testing.T, srv *videotest.Server, opts ...browsertest.Option) *browsertest.Browser {
	t.Helper()
	b := browsertest.New(t, opts...)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(srv.AccountSID()+":"+srv.AuthToken()))
	if _, err := chromedp.Call(b.Context(), network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Do(chromedp.Navigate(srv.URL()+"/_videotest/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="live"]`))); err != nil {
		t.Fatalf("the inspector did not load and go live: %v", err)
	}
	return b
}

// waitFor waits, on the DOM, for a CSS selector to match within d.
func waitFor(b *browsertest.Browser, d time.Duration, sel string) error {
	_, err := chromedp.Run(b.Context(), chromedp.Poll[bool]("document.querySelector("+jsString(sel)+") !== null",
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(d)))
	return err
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}

func TestInspectorInBrowser(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	b := openInspector(t, srv)
	if err := waitFor(b, 300*time.Millisecond, `tr.room[data-sid="RMnone"]`); err == nil {
		t.Fatal("waitFor found a Room that does not exist")
	}

	// A Room created by REST appears on the open page within a second.
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("created-by-rest"))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	if err := waitFor(b, time.Second, `tr.room[data-sid="`+*room.Sid+`"]`); err != nil {
		t.Fatalf("the Room created by REST did not appear within a second: %v", err)
	}
	t.Logf("the Room appeared %v after CreateRoom returned", time.Since(created).Round(time.Millisecond))

	// Markup in a Room name is shown as text, both in an update streamed
	// to the open page and in a fresh page load.
	name := `<b id="injected">bold</b><img src=x onerror="document.title='pwned'">`
	marked, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName(name))
	if err != nil {
		t.Fatal(err)
	}
	row := `tr.room[data-sid="` + *marked.Sid + `"] td.name`
	checkText := func(when string) {
		t.Helper()
		if err := waitFor(b, 10*time.Second, row); err != nil {
			t.Fatalf("%s: the Room with markup in its name is not shown: %v", when, err)
		}
		text, err := browsertest.Eval[string](b, "document.querySelector("+jsString(row)+").textContent")
		if err != nil {
			t.Fatal(err)
		}
		if text != name {
			t.Errorf("%s: name shown as %q, want the text %q", when, text, name)
		}
		injected, err := browsertest.Eval[bool](b, `document.getElementById("injected") !== null || document.querySelector("#live img") !== null || document.title === "pwned"`)
		if err != nil {
			t.Fatal(err)
		}
		if injected {
			t.Errorf("%s: markup from a Room name became elements of the page", when)
		}
	}
	checkText("streamed")
	if err := b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="live"]`))); err != nil {
		t.Fatal(err)
	}
	checkText("reloaded")

	// Connecting a Participant from the page: the form posts, the page
	// comes back with the result, and the Participant is there by REST and
	// on the page.
	if err := b.Do(
		chromedp.SetValue(chromedp.CSS(`#connect-form input[name=room]`), "created-by-rest"),
		chromedp.SetValue(chromedp.CSS(`#connect-form input[name=identity]`), "from-the-page"),
		chromedp.Click(chromedp.CSS(`#connect-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.msg.ok`)),
	); err != nil {
		t.Fatalf("connecting from the page: %v", err)
	}
	parts, err := video.ListRoomParticipant(*room.Sid, (&openapi.ListRoomParticipantParams{}).SetStatus("connected"))
	if err != nil || len(parts) != 1 || *parts[0].Identity != "from-the-page" {
		t.Fatalf("participants by REST after the form: %v (%v)", parts, err)
	}
	if err := waitFor(b, 10*time.Second, `tr.room[data-sid="`+*room.Sid+`"] li.part[data-sid="`+*parts[0].Sid+`"]`); err != nil {
		t.Fatalf("the connected Participant is not shown: %v", err)
	}

	b.CheckConsole()
}

func TestInspectorInBrowserTenThousandRooms(t *testing.T) {
	const n = 10000
	srv, _, _, _ := newTest(t, videotest.Options{AdHocRooms: true, ConcurrentRooms: n + 1, ConcurrentParticipants: n + 1})
	for i := range n {
		if _, err := srv.Connect("room-"+itoa(i), "p"); err != nil {
			t.Fatal(err)
		}
	}
	b := openInspector(t, srv)
	rows, err := browsertest.Eval[int](b, `document.querySelectorAll("tr.room").length`)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 50 {
		t.Errorf("the page renders %d Rooms of 10000, want one page of 50", rows)
	}
	// The next page is a link away.
	if err := b.Do(chromedp.Click(chromedp.CSS(`a[rel=next]`)), chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="live"]`))); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(b, 10*time.Second, `td.name`); err != nil {
		t.Fatal(err)
	}
	top, err := browsertest.Eval[string](b, `document.querySelector("td.name").textContent`)
	if err != nil {
		t.Fatal(err)
	}
	if top != "room-9949" {
		t.Errorf("page 2 starts with %q, want room-9949", top)
	}
	b.CheckConsole()
}

// TestInspectorScreenshot renders a busy emulator and saves the page to
// docs/emulator-inspector.png when UPDATE_SCREENSHOTS=1; otherwise it only
// checks that the page renders without a console error.
func TestInspectorScreenshot(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{ConcurrentRooms: 4, ConcurrentParticipants: 20,
		ReadsPerSecond: 10, WritesPerSecond: 10, MaxConcurrentRequests: 10})
	sink := srv.URL() + "/_videotest/sink/app"
	for _, name := range []string{"standup", "all-hands", `<i>markup</i> stays text`} {
		if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName(name).SetStatusCallback(sink)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct{ room, id string }{{"standup", "alice"}, {"standup", "bob"}, {"all-hands", "carol"}} {
		if _, err := srv.Connect(p.room, p.id); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.PublishTrack(p.room, p.id, "audio", "mic"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.PublishTrack("standup", "alice", "video", "camera"); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(videotest.Faults{Force429: 1})
	_, _ = video.FetchRoom("standup")
	for range 3 {
		if _, err := video.ListRoom(nil); err != nil {
			t.Fatal(err)
		}
	}
	b := openInspector(t, srv, browsertest.WindowSize(1280, 900))
	if err := waitFor(b, 10*time.Second, `#callbacks tr.ok`); err != nil {
		t.Fatal(err)
	}
	b.CheckConsole()
	path := os.Getenv("UPDATE_SCREENSHOTS")
	if path == "" {
		t.Skip("set UPDATE_SCREENSHOTS=1 to write docs/emulator-inspector.png")
	}
	if err := b.Screenshot("../../docs/emulator-inspector.png"); err != nil {
		t.Fatal(err)
	}
}
