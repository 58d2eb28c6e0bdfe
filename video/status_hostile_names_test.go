package video_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestStatusShowsMarkupAsText: a Room name carrying markup and script
// reaches the page only as escaped text (html/template's JS escaping of the
// embedded JSON), comes back exactly in the JSON, and hostile ?peaks=
// values get 400 without being echoed or setting a header.
func TestStatusShowsMarkupAsText(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{})
	t.Cleanup(srv.Close)
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vq.Close() })
	// A UniqueName cannot hold '/', a callback's RoomName is not checked.
	const name = `<script>alert(1)<img src=x onerror=alert(2)>"'&`
	if _, err := vq.CreateRoom(context.Background(), (&openapi.CreateRoomParams{}).SetUniqueName(name)); err != nil {
		t.Fatal(err)
	}
	const cbName = `</script><script>alert(3)</script>`
	form := roomForm(srv.AccountSID(), video.EventRoomCreated, testRoom, "", time.Now().UTC().Format(time.RFC3339))
	form.Set("RoomName", cbName)
	rec := httptest.NewRecorder()
	vq.StatusCallbackHandler().ServeHTTP(rec, signedPost(srv.AuthToken(), "https://hooks.example.com/s", form))
	if rec.Code != http.StatusOK {
		t.Fatalf("callback: %d", rec.Code)
	}
	hs := httptest.NewServer(vq.StatusHandler())
	defer hs.Close()
	_, page := get(t, hs.URL, "text/html")
	for _, raw := range []string{"<script>alert", "<img src=x", "</script><script>"} {
		if strings.Contains(page, raw) {
			t.Errorf("page carries %q unescaped", raw)
		}
	}
	rep := statusJSON(t, hs.URL)
	found := 0
	for _, r := range rep.Rooms {
		if r.Name == name || r.Name == cbName {
			found++
		}
	}
	if found != 2 {
		t.Errorf("JSON rooms %+v: want the name as given", rep.Rooms)
	}
	for _, p := range []string{"hour.csv\r\nX-Injected: 1", strings.Repeat("hour.", 10000) + "csv", "../../etc/passwd", "hour.csv.json", "<script>", "%00", "HOUR.CSV"} {
		resp, body := get(t, hs.URL+"?peaks="+url.QueryEscape(p), "")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("?peaks=%.40q: %s, want 400", p, resp.Status)
		}
		if resp.Header.Get("X-Injected") != "" || strings.Contains(body, "<script>") || strings.Contains(body, "passwd") {
			t.Errorf("?peaks=%.40q: echoed: %q", p, body)
		}
	}
}
