package video_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/videoquota/videoquota/internal/browsertest"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestStatusPageInBrowser loads the status page in headless Chromium: it
// loads with no console error (its strict Content-Security-Policy would
// report any external or unapproved asset), a Room created through the
// Client after the page loaded shows up on it, and markup in a Room name is
// shown as text. With VIDEOQUOTA_SCREENSHOTS=1 it saves
// docs/status-page.png.
func TestStatusPageInBrowser(t *testing.T) {
	b := browsertest.New(t, browsertest.WindowSize(1280, 1000))
	// The Client's clock moves 75 s between Rooms, so that the page shows
	// a 36-minute ramp, its trend and its forecast.
	clock := &handClock{t: time.Now().UTC().Truncate(time.Hour)}
	_, vq := setup(t, videotest.Options{ConcurrentRooms: 40},
		video.WithLimits(quota.Limits{ConcurrentRooms: 40, ConcurrentParticipants: 400}),
		video.WithThresholds(func(quota.Event) {}, 0.7, 0.9), video.WithClock(clockFunc(clock.now)))
	ctx := context.Background()
	for i := range 29 {
		if _, err := vq.CreateRoom(ctx, room(fmt.Sprintf("class-%02d", i))); err != nil {
			t.Fatal(err)
		}
		for k := range 8 {
			if err := vq.HoldParticipant(ctx, roomSID(1), participantSID(8*i+k)); err != nil {
				t.Fatal(err)
			}
		}
		clock.add(75 * time.Second)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/quota", vq.StatusHandler())
	hs := httptest.NewServer(mux)
	defer hs.Close()

	if err := b.Do(chromedp.Navigate(hs.URL + "/ops/quota")); err != nil {
		t.Fatal(err)
	}
	if _, err := browsertest.Eval[bool](b, `document.querySelectorAll("#resources h2").length === 2`); err != nil {
		t.Fatal(err)
	}
	// A Room created now, its name full of markup, shows up by the page's
	// own polling.
	// (No '/', which a UniqueName may not hold.)
	const name = `<b id="injected">bold<b> & <img src=x onerror="console.error('xss')">`
	if _, err := vq.CreateRoom(ctx, room(name)); err != nil {
		t.Fatal(err)
	}
	ok, err := chromedpRun[bool](b, chromedp.Poll[bool](`[...document.querySelectorAll("#rooms td.name")].some(td => td.textContent === `+jsString(name)+`)`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !ok {
		t.Fatalf("the Room created through the Client never showed on the page: %v", err)
	}
	injected, err := browsertest.Eval[bool](b, `document.getElementById("injected") !== null || document.querySelector("#rooms img, #rooms b") !== null`)
	if err != nil {
		t.Fatal(err)
	}
	if injected {
		t.Errorf("markup of a Room name became elements of the page")
	}
	used, err := browsertest.Eval[string](b, `document.querySelector("#resources .big").textContent`)
	if err != nil {
		t.Fatal(err)
	}
	if used != "30 / 40" {
		t.Errorf("Rooms shown as %q, want 30 / 40", used)
	}
	events, err := browsertest.Eval[string](b, `document.getElementById("events").textContent`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "rooms 28 of 40 crossed 70%"; !strings.Contains(events, want) {
		t.Errorf("events %q lack %q", events, want)
	}
	b.CheckConsole()

	path := filepath.Join(t.TempDir(), "status-page.png")
	if os.Getenv("VIDEOQUOTA_SCREENSHOTS") == "1" {
		path = filepath.Join("..", "docs", "status-page.png")
	}
	if err := b.Screenshot(path); err != nil {
		t.Fatal(err)
	}
}

func chromedpRun[T any](b *browsertest.Browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }
