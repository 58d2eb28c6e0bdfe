package video_test

import (
	"fmt"
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

// TestHostileWebhooksRefused: forged, huge, many-parameter,
// repeated-parameter and odd-URL requests over real HTTP are each refused,
// and the ledger does not move.
func TestHostileWebhooksRefused(t *testing.T) {
	t.Parallel()
	vq, token := offline(t)
	hs := httptest.NewServer(vq.StatusCallbackHandler())
	t.Cleanup(hs.Close)
	good := roomForm(vq.AccountSID(), video.EventRoomCreated, testRoom, "", "2026-11-26T10:00:00Z")
	many := url.Values{}
	for i := range 9000 {
		many.Add(fmt.Sprintf("p%d", i), "x")
	}
	for k, v := range good {
		many[k] = v
	}
	rep := url.Values{}
	for k, v := range good {
		rep[k] = v
	}
	rep["RoomSid"] = []string{testRoom, "RMffffffffffffffffffffffffffffffff"}
	sigOf := func(u string, f url.Values) string { return videotest.Signature(token, u, f) }
	type tc struct {
		name   string
		method string
		path   string
		body   string
		sig    string
	}
	u := hs.URL + "/status"
	cases := []tc{
		{"forged", "POST", "/status", good.Encode(), sigOf(u, url.Values{"x": {"y"}})},
		{"signed for another URL", "POST", "/status", good.Encode(), sigOf(hs.URL+"/other", good)},
		{"9,000 params forged", "POST", "/status", many.Encode(), sigOf(u, good)},
		{"9,000 params signed", "POST", "/status", many.Encode(), sigOf(u, many)},
		{"huge body", "POST", "/status", strings.Repeat("a=b&", 1<<20), sigOf(u, good)},
		{"repeated RoomSid, only first signed", "POST", "/status", rep.Encode(), sigOf(u, good)},
		{"bad percent", "POST", "/status", "RoomSid=%zz&" + good.Encode(), sigOf(u, good)},
		{"GET huge query", "GET", "/status?" + strings.Repeat("a=b&", 1<<15), "", sigOf(u, nil)},
		{"GET forged query", "GET", "/status?" + good.Encode(), "", sigOf(u+"?"+good.Encode()+"x", nil)},
		{"PUT", "PUT", "/status", good.Encode(), sigOf(u, good)},
		{"signature garbage", "POST", "/status", good.Encode(), strings.Repeat("A", 28)},
		{"signature too long", "POST", "/status", good.Encode(), strings.Repeat("A", 1<<14)},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", c.sig)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		took := time.Since(start)
		if err != nil {
			t.Logf("%s: %v (%s)", c.name, err, took)
			continue
		}
		resp.Body.Close()
		t.Logf("%s: %d in %s", c.name, resp.StatusCode, took)
		if resp.StatusCode < 400 {
			t.Errorf("%s: accepted with %d", c.name, resp.StatusCode)
		}
	}
	if r := mustUsed(t, vq, quota.Rooms); r != 0 {
		t.Errorf("rooms %d after hostile requests", r)
	}
}
