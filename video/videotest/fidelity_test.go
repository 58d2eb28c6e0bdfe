package videotest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	monitor "github.com/twilio/twilio-go/rest/monitor/v1"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// getJSON fetches path with the account's credentials and decodes the body.
func getJSON(t *testing.T, srv *videotest.Server, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL()+path, nil)
	req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecordingStatusCallbackField: the account-wide Recording carries
// status_callback (null when none), as the spec's video.v1.recording does;
// the room-scoped one, whose schema has no such field, does not.
func TestRecordingStatusCallbackField(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("rec").SetRecordParticipantsOnConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Connect("rec", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.PublishTrack("rec", "a", "audio", "mic"); err != nil {
		t.Fatal(err)
	}
	recs, err := video.ListRecording(nil)
	if err != nil || len(recs) != 1 {
		t.Fatalf("recordings = %v, %v", recs, err)
	}
	m := getJSON(t, srv, "/v1/Recordings/"+*recs[0].Sid)
	if v, ok := m["status_callback"]; !ok || v != nil {
		t.Fatalf("status_callback = %v (present %v), want null", v, ok)
	}
	if m["status_callback_method"] != "POST" {
		t.Fatalf("status_callback_method = %v", m["status_callback_method"])
	}
	rm := getJSON(t, srv, "/v1/Rooms/"+*room.Sid+"/Recordings/"+*recs[0].Sid)
	if _, ok := rm["status_callback"]; ok {
		t.Fatalf("room recording has status_callback: %v", rm)
	}
}

// TestAlertInstanceFields: the Alert instance has the four fields the spec's
// monitor.v1.alert-instance adds; the list items do not.
func TestAlertInstanceFields(t *testing.T) {
	srv, video, mon, _ := newTest(t, videotest.Options{ConcurrentRooms: 1})
	if _, err := video.CreateRoom(nil); err != nil {
		t.Fatal(err)
	}
	_, err := video.CreateRoom(nil)
	restErr(t, err, 53119, 400)
	alerts, err := mon.ListAlert(&monitor.ListAlertParams{})
	if err != nil || len(alerts) != 2 {
		t.Fatalf("alerts = %v, %v (want the 53121 warning and the 53119 error)", alerts, err)
	}
	list := getJSON(t, srv, "/v1/Alerts")["alerts"].([]any)
	for _, f := range []string{"request_variables", "request_headers", "response_body", "response_headers"} {
		if _, ok := list[0].(map[string]any)[f]; ok {
			t.Errorf("list item has %s", f)
		}
	}
	m := getJSON(t, srv, "/v1/Alerts/"+*alerts[0].Sid)
	for _, f := range []string{"request_headers", "response_body", "response_headers"} {
		if v, ok := m[f]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", f, v, ok)
		}
	}
	if v, _ := m["request_variables"].(string); !strings.Contains(v, `"error_code":"53119"`) {
		t.Errorf("request_variables = %v", m["request_variables"])
	}
	a, err := mon.FetchAlert(*alerts[0].Sid)
	if err != nil || a.RequestHeaders != nil {
		t.Fatalf("twilio-go FetchAlert = %+v, %v", a, err)
	}
}

// TestCompositionLifecycle: enqueued, then processing, then completed on the
// clock, with the room's duration, a size and a bitrate, and the documented
// composition callbacks in that order.
func TestCompositionLifecycle(t *testing.T) {
	h := newHook(t)
	srv, video, _, fc := newTest(t, videotest.Options{})
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("c"))
	if err != nil {
		t.Fatal(err)
	}
	fc.Advance(90 * time.Second)
	if err := srv.CompleteRoom("c"); err != nil {
		t.Fatal(err)
	}
	c, err := video.CreateComposition((&openapi.CreateCompositionParams{}).SetRoomSid(*room.Sid).
		SetAudioSources([]string{"*"}).SetStatusCallback(h.URL + "/comp"))
	if err != nil {
		t.Fatal(err)
	}
	if *c.Status != "enqueued" || c.Size != nil || c.Duration != 0 || c.Bitrate != 0 || c.DateCompleted != nil {
		t.Fatalf("new composition = status %s size %v duration %d bitrate %d", *c.Status, c.Size, c.Duration, c.Bitrate)
	}
	step := func(d time.Duration, want string) *openapi.VideoV1Composition {
		t.Helper()
		fc.Advance(d)
		got, err := video.FetchComposition(*c.Sid)
		if err != nil || *got.Status != want {
			t.Fatalf("after %v: status %v, %v; want %s", d, got.Status, err, want)
		}
		return got
	}
	step(999*time.Millisecond, "enqueued")
	step(time.Millisecond, "processing")
	step(4*time.Second, "processing")
	done := step(time.Second, "completed")
	if done.Duration != 90 || done.Bitrate <= 0 || done.Size == nil || *done.Size != int64(90*done.Bitrate*1000/8) || done.DateCompleted == nil {
		t.Fatalf("completed = duration %d bitrate %d size %v", done.Duration, done.Bitrate, done.Size)
	}
	list, err := video.ListComposition((&openapi.ListCompositionParams{}).SetStatus("completed"))
	if err != nil || len(list) != 1 {
		t.Fatalf("Status=completed list = %d, %v", len(list), err)
	}
	flush(t, srv)
	// Delivery order is not guaranteed (as with Twilio): order by Timestamp.
	got := h.all()
	sort.SliceStable(got, func(i, j int) bool { return got[i].params.Get("Timestamp") < got[j].params.Get("Timestamp") })
	var events []string
	for _, r := range got {
		if r.params.Get("CompositionSid") != *c.Sid {
			t.Fatalf("callback for %s", r.params.Get("CompositionSid"))
		}
		if rv := client.NewRequestValidator(srv.AuthToken()); !rv.Validate(r.url, flat(r.params), r.sig) {
			t.Fatalf("bad signature on %v", r.params)
		}
		events = append(events, r.params.Get("StatusCallbackEvent"))
	}
	if strings.Join(events, ",") != "composition-enqueued,composition-started,composition-available" {
		t.Fatalf("events = %v", events)
	}
}

func flat(v map[string][]string) map[string]string {
	m := make(map[string]string, len(v))
	for k, x := range v {
		m[k] = x[0]
	}
	return m
}

// TestHeadIsNotCharged: HEAD is answered 405 with Allow and takes no token
// from the read bucket.
func TestHeadIsNotCharged(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{ReadsPerSecond: 1, ReadBurst: 1})
	status, hdr, _ := raw(t, srv, "HEAD", "/v1/Rooms", "", nil, true)
	if status != 405 || hdr.Get("Allow") != "GET, POST" {
		t.Fatalf("HEAD = %d Allow %q", status, hdr.Get("Allow"))
	}
	if st := srv.Stats(); st.Reads != 0 {
		t.Fatalf("Reads = %d after HEAD", st.Reads)
	}
	if status, _, te := raw(t, srv, "GET", "/v1/Rooms", "", nil, true); status != 200 {
		t.Fatalf("GET after HEAD = %d %+v: the HEAD took the only read token", status, te)
	}
	if status, _, te := raw(t, srv, "GET", "/v1/Rooms", "", nil, true); status != 429 || te.Code != 20429 {
		t.Fatalf("second GET = %d %+v, want 429 (bucket of 1)", status, te)
	}
	log := srv.Requests(0)
	if len(log) != 3 || log[0].Class != "uncharged" || log[0].Code != 20004 || log[1].Class != "read" || !log[2].Throttled {
		t.Fatalf("request log = %+v", log)
	}
}

// TestUnauthorizedMessages: Twilio's three 20003 messages.
func TestUnauthorizedMessages(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	for _, c := range []struct {
		name, user, pass, msg string
	}{
		{"no credentials", "", "", "Authentication Error - No credentials provided"},
		{"unknown username", "AC1111", srv.AuthToken(), "Authentication Error - invalid username"},
		{"wrong token", srv.AccountSID(), "nope", "Authenticate"},
	} {
		req, _ := http.NewRequest("GET", srv.URL()+"/v1/Rooms", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var te client.TwilioRestError
		_ = json.NewDecoder(resp.Body).Decode(&te)
		resp.Body.Close()
		if resp.StatusCode != 401 || te.Code != 20003 || te.Message != c.msg {
			t.Errorf("%s: %d %+v, want 401 20003 %q", c.name, resp.StatusCode, te, c.msg)
		}
	}
}

// TestReconnectingParticipant: the REST surface shows reconnecting, the
// participant keeps its quota slot and its room, and can still be kicked.
func TestReconnectingParticipant(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{ConcurrentParticipants: 2})
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("r"))
	if err != nil {
		t.Fatal(err)
	}
	psid, _ := srv.Connect("r", "a")
	if _, err := srv.Connect("r", "b"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reconnecting("r", "a"); err != nil {
		t.Fatal(err)
	}
	ps, err := video.ListRoomParticipant(*room.Sid, (&openapi.ListRoomParticipantParams{}).SetStatus("reconnecting"))
	if err != nil || len(ps) != 1 || *ps[0].Sid != psid || *ps[0].Status != "reconnecting" || ps[0].EndTime != nil {
		t.Fatalf("reconnecting list = %v, %v", ps, err)
	}
	if _, err := srv.Connect("r", "c"); err == nil {
		t.Fatal("a reconnecting participant's quota slot was given away")
	} else {
		wantCode(t, err, 53206)
	}
	if err := srv.Reconnected("r", psid); err != nil {
		t.Fatal(err)
	}
	if p, _ := video.FetchRoomParticipant(*room.Sid, psid); *p.Status != "connected" {
		t.Fatalf("after reconnected: %s", *p.Status)
	}
	if err := srv.Reconnecting("r", "a"); err != nil {
		t.Fatal(err)
	}
	p, err := video.UpdateRoomParticipant(*room.Sid, "a", (&openapi.UpdateRoomParticipantParams{}).SetStatus("disconnected"))
	if err != nil || *p.Status != "disconnected" {
		t.Fatalf("kick reconnecting = %v, %v", p, err)
	}
	if st := srv.Stats(); st.ParticipantsNow != 1 {
		t.Fatalf("ParticipantsNow = %d", st.ParticipantsNow)
	}
	wantCode(t, srv.Reconnecting("r", "a"), 53204)
}

// TestLargeRoomCap: LargeRoom raises a group Room's cap to 100.
func TestLargeRoomCap(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	large, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("large").SetLargeRoom(true))
	if err != nil {
		t.Fatal(err)
	}
	if large.MaxParticipants != videotest.LargeRoomMaxParticipants || !*large.LargeRoom {
		t.Fatalf("large room max_participants = %d", large.MaxParticipants)
	}
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetLargeRoom(true).SetMaxParticipants(90)); err != nil {
		t.Fatalf("MaxParticipants 90: %v", err)
	}
	_, err = video.CreateRoom((&openapi.CreateRoomParams{}).SetLargeRoom(true).SetMaxParticipants(101))
	restErr(t, err, 53107, 400)
	_, err = video.CreateRoom((&openapi.CreateRoomParams{}).SetMaxParticipants(51))
	restErr(t, err, 53107, 400)
	_, err = video.CreateRoom((&openapi.CreateRoomParams{}).SetType("group-small").SetLargeRoom(true))
	restErr(t, err, 20001, 400)
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("small")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < videotest.LargeRoomMaxParticipants; i++ {
		if _, err := srv.Connect("large", fmt.Sprint("p", i)); err != nil {
			t.Fatalf("join %d of the large room: %v", i+1, err)
		}
		if i < 50 {
			if _, err := srv.Connect("small", fmt.Sprint("p", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err = srv.Connect("large", "one-too-many")
	wantCode(t, err, 53105)
	_, err = srv.Connect("small", "one-too-many")
	wantCode(t, err, 53105)
}

// TestCallbackRetries: a callback is retried only as Twilio's connection
// overrides say: once on a failed connection by default, never on an HTTP
// error unless the URL's #rp names it, rc times at most.
func TestCallbackRetries(t *testing.T) {
	// A port with nothing listening: every connection is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/cb"
	ln.Close()
	h500 := newHook(t)
	h500.code = 500
	for _, c := range []struct {
		name, url string
		attempts  int
		errKind   string
	}{
		{"refused, default rc=1 rp=ct", dead, 2, "connect"},
		{"refused, rc=0", dead + "#rc=0", 1, "connect"},
		{"refused, rc=3", dead + "#rc=3&ct=200", 4, "connect"},
		{"500, default policy", h500.URL + "/a", 1, "5xx"},
		{"500, rp=5xx rc=2", h500.URL + "/b#rp=5xx&rc=2", 3, "5xx"},
		{"500, rp=4xx", h500.URL + "/c#rp=4xx&rc=2", 1, "5xx"},
		{"500, rp=all rc=1", h500.URL + "/d#rp=all&rc=1", 2, "5xx"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, _, _, _ := newTest(t, videotest.Options{AdHocRooms: true, AdHocStatusCallback: c.url})
			if _, err := srv.Connect("adhoc", "a"); err != nil {
				t.Fatal(err)
			}
			flush(t, srv)
			byEvent := map[string][]videotest.CallbackRecord{}
			for _, r := range srv.Callbacks(0) {
				byEvent[r.Event] = append(byEvent[r.Event], r)
			}
			for _, ev := range []string{"room-created", "participant-connected"} {
				rs := byEvent[ev]
				if len(rs) != c.attempts {
					t.Fatalf("%s: %d attempts, want %d: %+v", ev, len(rs), c.attempts, rs)
				}
				for i, r := range rs {
					if r.Attempt != i+1 || r.Delivered || r.Error != c.errKind || r.URL != c.url {
						t.Fatalf("%s attempt %d = %+v", ev, i+1, r)
					}
				}
			}
		})
	}
	// A fragment is not part of the URL Twilio requests, nor of what it signs.
	h := newHook(t)
	srv, _, _, _ := newTest(t, videotest.Options{AdHocRooms: true, AdHocStatusCallback: h.URL + "/s#rc=2"})
	if _, err := srv.Connect("x", "a"); err != nil {
		t.Fatal(err)
	}
	flush(t, srv)
	got := h.all()
	if len(got) != 2 {
		t.Fatalf("got %d callbacks", len(got))
	}
	for _, r := range got {
		rv := client.NewRequestValidator(srv.AuthToken())
		if r.url != h.URL+"/s" || !rv.Validate(r.url, flat(r.params), r.sig) {
			t.Fatalf("callback to %s with a signature the receiver cannot verify", r.url)
		}
	}
}
