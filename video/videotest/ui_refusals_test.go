package videotest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/video/videotest"
)

// TestInspectorRefusesSubaccountsAndForeignOrigins: the inspector shows
// every account's Rooms, so a subaccount's credentials do not open it (it
// sits behind the main account's control API auth); a form post whose
// Origin is another site or "null" (a sandboxed frame, a data: page) is
// refused even without Sec-Fetch-Site, and changes nothing.
func TestInspectorRefusesSubaccountsAndForeignOrigins(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	sub, err := srv.CreateAccount(videotest.AccountOptions{FriendlyName: "tenant"})
	if err != nil {
		t.Fatal(err)
	}
	in := newInspector(t, srv)
	in.user, in.pass = sub.AccountSID(), sub.AuthToken()
	for _, p := range []string{"/_videotest/ui/", "/_videotest/ui/events"} {
		if resp, _ := in.get(p); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with a subaccount's credentials = %d, want 401", p, resp.StatusCode)
		}
	}
	if resp, _ := in.post("/_videotest/ui/faults", url.Values{"force_429": {"5"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST faults with a subaccount's credentials = %d, want 401", resp.StatusCode)
	}
	in.user, in.pass = srv.AccountSID(), srv.AuthToken()
	for _, origin := range []string{"http://evil.example", "null", strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)} {
		req, _ := http.NewRequest("POST", srv.URL()+"/_videotest/ui/faults", strings.NewReader("force_429=5"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		if resp, _ := in.do(req); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("post from Origin %q = %d, want refused", origin, resp.StatusCode)
		}
	}
	if f := srv.Faults().Force429; f != 0 {
		t.Fatalf("a refused post set Force429 = %d", f)
	}
}
