package video_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/video/videotest"
)

// TestStatusPageNonceMatchesCSP: every read of the status page carries a
// fresh nonce, and it is the one the page's script and style tags hold,
// read after read of the same snapshot (the page is rendered once per
// snapshot and each read puts its own nonce in), so that the browser runs
// the page's own script and style and nothing else.
func TestStatusPageNonceMatchesCSP(t *testing.T) {
	_, vq := setup(t, videotest.Options{})
	h := vq.StatusHandler()
	cspNonce := regexp.MustCompile(`script-src 'nonce-([^']+)'`)
	seen := map[string]bool{}
	for range 50 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Accept", "text/html")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		m := cspNonce.FindStringSubmatch(w.Header().Get("Content-Security-Policy"))
		if m == nil {
			t.Fatalf("no script nonce in the Content-Security-Policy %q", w.Header().Get("Content-Security-Policy"))
		}
		nonce := m[1]
		if seen[nonce] {
			t.Fatalf("nonce %q served twice", nonce)
		}
		seen[nonce] = true
		body := w.Body.String()
		if all, ours := strings.Count(body, `nonce="`), strings.Count(body, `nonce="`+nonce+`"`); all < 2 || ours != all {
			t.Fatalf("the page holds %d nonce attributes, %d of them the header's %q", all, ours, nonce)
		}
	}
}
