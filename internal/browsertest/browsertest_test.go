package browsertest

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// page serves fixed HTML documents by path.
func page(t *testing.T, docs map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	return srv
}

const icon = `<link rel="icon" href="data:,">`

func TestConsoleErrorsAreCollected(t *testing.T) {
	srv := page(t, map[string]string{
		"/clean": `<!doctype html>` + icon + `<p id="ok">fine</p><script>console.log("just a log")</script>`,
		"/bad": `<!doctype html>` + icon + `<p id="ok">bad</p><script>
console.error("explicit error");
setTimeout(() => { throw new Error("thrown later") }, 0);
Promise.reject(new Error("rejected"));
</script><img src="/missing.png">`,
	})
	b := New(t)
	if err := b.Do(chromedp.Navigate(srv.URL+"/clean"), chromedp.WaitVisible(chromedp.CSS("#ok"))); err != nil {
		t.Fatal(err)
	}
	if errs := b.ConsoleErrors(); len(errs) != 0 {
		t.Fatalf("clean page: console errors %v", errs)
	}

	if err := b.Do(chromedp.Navigate(srv.URL+"/bad"), chromedp.WaitVisible(chromedp.CSS("#ok"))); err != nil {
		t.Fatal(err)
	}
	want := []string{"explicit error", "thrown later", "rejected", "404"}
	// The events arrive after the page loads: wait on them.
	errs, err := b.WaitConsoleErrors(func(m []chromedp.ConsoleMessage) bool { return allSeen(m, want) })
	if err != nil {
		t.Fatalf("%v: console errors %v, want each of %q", err, errs, want)
	}
}

func allSeen(msgs []chromedp.ConsoleMessage, want []string) bool {
	for _, w := range want {
		found := false
		for _, m := range msgs {
			if strings.Contains(m.Text, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestScreenshotIsAPNGOfThePage(t *testing.T) {
	srv := page(t, map[string]string{
		"/": `<!doctype html>` + icon + `<body style="margin:0"><div id="tall" style="height:1500px;background:#08f">x</div></body>`,
	})
	b := New(t, WindowSize(800, 600))
	if err := b.Do(chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#tall"))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub", "shot.png")
	if err := b.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	// The whole page, not the 600-pixel viewport.
	if got := img.Bounds().Dy(); got < 1500 {
		t.Errorf("screenshot height %d px, want the full page (>= 1500)", got)
	}
	if got := img.Bounds().Dx(); got != 800 {
		t.Errorf("screenshot width %d px, want 800", got)
	}
}

func TestCleanupLeavesNoProcessAndNoProfile(t *testing.T) {
	var profile string
	t.Run("browser", func(t *testing.T) {
		b := New(t)
		profile = b.profile
		if err := b.Do(chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
	})
	if profile == "" {
		t.Skip("the browser did not start")
	}
	if n := killUsing(profile); n != 0 {
		t.Errorf("%d chromium processes left with profile %s", n, profile)
	}
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("profile %s still there (stat: %v)", profile, err)
	}
}

func TestEval(t *testing.T) {
	b := New(t)
	got, err := Eval[int](b, "6*7")
	if err != nil {
		t.Fatal(err)
	}
	if got != 42 {
		t.Errorf("Eval(6*7) = %d", got)
	}
}

// recorder is a testing.TB that records Skip and Fatalf instead of stopping.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               { r.TB.Helper() }
func (r *recorder) Skip(...any)           { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestMissingBrowserSkipsButFailsInCI(t *testing.T) {
	for _, tc := range []struct {
		ci         string
		skip, fail bool
	}{
		{ci: "", skip: true},
		{ci: "false", skip: true},
		{ci: "true", fail: true},
	} {
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		missing(r, ErrNoBrowser)
		if r.skipped != tc.skip || r.failed != tc.fail {
			t.Errorf("CI=%q: skipped %v failed %v, want %v %v", tc.ci, r.skipped, r.failed, tc.skip, tc.fail)
		}
	}
}
