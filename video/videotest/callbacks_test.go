package videotest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// hook records the callbacks it receives.
type hook struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	code int
}

type received struct {
	method, url, sig, idem, ctype string
	body                          []byte
	params                        url.Values
}

func newHook(t *testing.T) *hook {
	h := &hook{code: 200}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc := received{method: r.Method, url: "http://" + r.Host + r.URL.RequestURI(), sig: r.Header.Get("X-Twilio-Signature"),
			idem: r.Header.Get("I-Twilio-Idempotency-Token"), ctype: r.Header.Get("Content-Type"), body: b}
		if r.Method == "GET" {
			rc.params = r.URL.Query()
		} else {
			rc.params, _ = url.ParseQuery(string(b))
		}
		h.mu.Lock()
		h.got = append(h.got, rc)
		code := h.code
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) all() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := append([]received(nil), h.got...)
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].params.Get("SequenceNumber"))
		b, _ := strconv.Atoi(out[j].params.Get("SequenceNumber"))
		return a < b
	})
	return out
}

func flush(t *testing.T, srv *videotest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.FlushCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStatusCallbacksSignedPOST(t *testing.T) {
	h := newHook(t)
	srv, v, _, fc := newTest(t, videotest.Options{})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("cb"), StatusCallback: ptr(h.URL + "/status?x=1")}))
	p := must(srv.Connect("cb", "alice"))
	mt := must(srv.PublishTrack("cb", "alice", "video", "cam"))
	fc.Advance(42 * time.Second)
	must(v.UpdateRoom(*r.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	flush(t, srv)
	got := h.all()
	events := []string{}
	for _, c := range got {
		events = append(events, c.params.Get("StatusCallbackEvent"))
	}
	want := []string{"room-created", "participant-connected", "track-added", "track-removed", "participant-disconnected", "room-ended"}
	if len(events) != len(want) {
		t.Fatalf("events = %v, want %v", events, want)
	}
	rv := client.NewRequestValidator(srv.AuthToken())
	for i, c := range got {
		if events[i] != want[i] {
			t.Fatalf("events = %v, want %v", events, want)
		}
		if c.method != "POST" || c.ctype != "application/x-www-form-urlencoded" || c.idem == "" {
			t.Fatalf("%s: method %s type %q idem %q", events[i], c.method, c.ctype, c.idem)
		}
		if !rv.ValidateBody(c.url, c.body, c.sig) {
			t.Fatalf("%s: signature %q does not verify for %s", events[i], c.sig, c.url)
		}
		if rv.ValidateBody(c.url, c.body, "AAAA"+c.sig[4:]) {
			t.Fatal("validator accepts a forged signature")
		}
		ps := c.params
		for _, k := range []string{"AccountSid", "RoomName", "RoomSid", "RoomStatus", "RoomType", "StatusCallbackEvent", "Timestamp", "SequenceNumber"} {
			if ps.Get(k) == "" {
				t.Fatalf("%s: missing %s in %v", events[i], k, ps)
			}
		}
		if ps.Get("RoomSid") != *r.Sid || ps.Get("RoomName") != "cb" || ps.Get("AccountSid") != srv.AccountSID() || ps.Get("RoomType") != "group" {
			t.Fatalf("%s: %v", events[i], ps)
		}
		if _, err := time.Parse(time.RFC3339, ps.Get("Timestamp")); err != nil {
			t.Fatalf("Timestamp %q: %v", ps.Get("Timestamp"), err)
		}
	}
	pc := got[1].params
	if pc.Get("ParticipantSid") != p || pc.Get("ParticipantIdentity") != "alice" || pc.Get("ParticipantStatus") != "connected" || pc.Has("ParticipantDuration") {
		t.Fatalf("participant-connected = %v", pc)
	}
	ta := got[2].params
	if ta.Get("TrackSid") != mt || ta.Get("TrackKind") != "video" {
		t.Fatalf("track-added = %v", ta)
	}
	pd := got[4].params
	if pd.Get("ParticipantStatus") != "disconnected" || pd.Get("ParticipantDuration") != "42" {
		t.Fatalf("participant-disconnected = %v", pd)
	}
	re := got[5].params
	if re.Get("RoomStatus") != "completed" || re.Get("RoomDuration") != "42" || re.Has("ParticipantSid") {
		t.Fatalf("room-ended = %v", re)
	}
	if st := srv.Stats(); st.CallbacksSent != 6 || st.CallbacksFailed != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestStatusCallbacksSignedGET(t *testing.T) {
	h := newHook(t)
	srv, _, _, _ := newTest(t, videotest.Options{AdHocRooms: true, AdHocStatusCallback: h.URL + "/adhoc",
		AdHocStatusCallbackMethod: "GET"})
	must(srv.Connect("adhoc", "bob"))
	if err := srv.Disconnect("adhoc", "bob"); err != nil {
		t.Fatal(err)
	}
	flush(t, srv)
	got := h.all()
	if len(got) != 4 {
		t.Fatalf("%d callbacks, want 4", len(got))
	}
	rv := client.NewRequestValidator(srv.AuthToken())
	for _, c := range got {
		if c.method != "GET" || len(c.body) != 0 {
			t.Fatalf("method %s body %q", c.method, c.body)
		}
		if !rv.Validate(c.url, map[string]string{}, c.sig) {
			t.Fatalf("GET signature does not verify for %s", c.url)
		}
	}
	if got[3].params.Get("StatusCallbackEvent") != "room-ended" {
		t.Fatalf("last = %v", got[3].params)
	}
}

func TestDebuggerWebhook(t *testing.T) {
	h := newHook(t)
	srv, v, mon, _ := newTest(t, videotest.Options{ConcurrentRooms: 10, ConcurrentParticipants: 4, DebuggerWebhook: h.URL + "/debugger"})
	var sids []string
	for i := 0; i < 7; i++ { // the 7th reaches 70%
		sids = append(sids, *must(v.CreateRoom(&openapi.CreateRoomParams{})).Sid)
	}
	must(v.CreateRoom(&openapi.CreateRoomParams{})) // still above: no second warning
	flush(t, srv)
	if n := len(h.all()); n != 1 {
		t.Fatalf("%d debugger events after crossing 70%% once, want 1", n)
	}
	// Fall below 70%, cross again: a second warning.
	for _, s := range sids[:2] {
		must(v.UpdateRoom(s, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	}
	must(v.CreateRoom(&openapi.CreateRoomParams{}))
	// Participants: 70% of 4 is 2.8, so the 3rd connect warns; the 5th fails with 53206.
	for _, id := range []string{"a", "b", "c", "d"} {
		must(srv.Connect(sids[3], id))
	}
	_, err := srv.Connect(sids[3], "e")
	wantCode(t, err, 53206)
	flush(t, srv)
	got := h.all()
	if len(got) != 4 {
		t.Fatalf("%d debugger events, want 4 (rooms x2, participants, 53206)", len(got))
	}
	rv := client.NewRequestValidator(srv.AuthToken())
	type payload struct {
		ResourceSid string          `json:"resource_sid"`
		ServiceSid  *string         `json:"service_sid"`
		ErrorCode   string          `json:"error_code"`
		MoreInfo    map[string]any  `json:"more_info"`
		Raw         json.RawMessage `json:"-"`
	}
	var levels, resources, codes []string
	for _, c := range got {
		if c.method != "POST" || !rv.ValidateBody(c.url, c.body, c.sig) || c.idem == "" {
			t.Fatalf("debugger event not signed/posted: %+v", c)
		}
		ps := c.params
		if len(ps.Get("Sid")) != 34 || ps.Get("Sid")[:2] != "NO" || ps.Get("AccountSid") != srv.AccountSID() ||
			ps.Get("PayloadType") != "application/json" || ps.Get("Timestamp") == "" {
			t.Fatalf("event = %v", ps)
		}
		var pl payload
		if err := json.Unmarshal([]byte(ps.Get("Payload")), &pl); err != nil || pl.ServiceSid != nil || pl.ResourceSid == "" {
			t.Fatalf("payload %q: %v", ps.Get("Payload"), err)
		}
		levels = append(levels, ps.Get("Level"))
		codes = append(codes, pl.ErrorCode)
		resources = append(resources, pl.MoreInfo["resource"].(string))
		if pl.MoreInfo["limit"] == nil || pl.MoreInfo["used"] == nil {
			t.Fatalf("more_info = %v", pl.MoreInfo)
		}
	}
	// Delivery order across workers is not guaranteed; compare as multisets.
	count := func(xs []string) map[string]int {
		m := map[string]int{}
		for _, x := range xs {
			m[x]++
		}
		return m
	}
	if c := count(codes); c["53121"] != 3 || c["53206"] != 1 {
		t.Fatalf("codes = %v", codes)
	}
	if c := count(levels); c["WARNING"] != 3 || c["ERROR"] != 1 {
		t.Fatalf("levels = %v", levels)
	}
	if c := count(resources); c["rooms"] != 2 || c["participants"] != 2 {
		t.Fatalf("resources = %v", resources)
	}
	// The same events are Monitor alerts.
	alerts := must(mon.ListAlert(nil))
	if len(alerts) != 4 {
		t.Fatalf("alerts = %d", len(alerts))
	}
	if st := srv.Stats(); st.DebuggerEventsSent != 4 || st.Alerts != 4 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCallbackFaults(t *testing.T) {
	h := newHook(t)
	srv, v, _, _ := newTest(t, videotest.Options{Seed: 7, CallbackWorkers: 1, Faults: videotest.Faults{CallbackDropRate: 1}})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{StatusCallback: ptr(h.URL)}))
	must(srv.Connect(*r.Sid, "a"))
	flush(t, srv)
	if n := len(h.all()); n != 0 {
		t.Fatalf("%d callbacks with drop rate 1", n)
	}
	srv.SetFaults(videotest.Faults{CallbackDuplicateRate: 1})
	must(srv.Connect(*r.Sid, "b"))
	flush(t, srv)
	got := h.all()
	if len(got) != 2 || got[0].idem != got[1].idem || got[0].params.Get("ParticipantIdentity") != "b" {
		t.Fatalf("duplicate: %d callbacks %+v", len(got), got)
	}
	srv.SetFaults(videotest.Faults{CallbackReorderRate: 1})
	h.mu.Lock()
	h.got = nil
	h.mu.Unlock()
	must(srv.Connect(*r.Sid, "c")) // held back
	must(srv.Connect(*r.Sid, "d")) // sent, then the held one
	flush(t, srv)
	h.mu.Lock()
	order := []string{}
	for _, c := range h.got { // arrival order (one worker)
		order = append(order, c.params.Get("ParticipantIdentity"))
	}
	h.mu.Unlock()
	if len(order) != 2 || order[0] != "d" || order[1] != "c" {
		t.Fatalf("reordered arrival = %v, want [d c]", order)
	}
	srv.SetFaults(videotest.Faults{CallbackDelayRate: 1, CallbackDelay: 30 * time.Millisecond})
	start := time.Now()
	must(srv.Connect(*r.Sid, "e"))
	flush(t, srv)
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("delayed callback arrived early")
	}
	st := srv.Stats()
	if st.CallbacksDropped != 2 || st.CallbacksDuplicated != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// A failing endpoint is counted, not retried.
	h.mu.Lock()
	h.code = 500
	h.mu.Unlock()
	srv.SetFaults(videotest.Faults{})
	must(srv.Connect(*r.Sid, "f"))
	flush(t, srv)
	if st := srv.Stats(); st.CallbacksFailed != 1 {
		t.Fatalf("CallbacksFailed = %d", st.CallbacksFailed)
	}
}

func TestTrackAndRecordingCallbacks(t *testing.T) {
	h := newHook(t)
	srv, v, _, fc := newTest(t, videotest.Options{})
	r := must(v.CreateRoom(&openapi.CreateRoomParams{StatusCallback: ptr(h.URL), RecordParticipantsOnConnect: ptr(true)}))
	must(srv.Connect(*r.Sid, "a"))
	mic := must(srv.PublishTrack(*r.Sid, "a", "audio", "mic"))
	data := must(srv.PublishTrack(*r.Sid, "a", "data", "chat")) // data tracks are not recorded
	if err := srv.SetTrackEnabled(*r.Sid, "a", mic, false); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetTrackEnabled(*r.Sid, "a", mic, true); err != nil {
		t.Fatal(err)
	}
	if err := srv.UnpublishTrack(*r.Sid, "a", data); err != nil {
		t.Fatal(err)
	}
	wantCode(t, srv.UnpublishTrack(*r.Sid, "a", data), 20404)
	fc.Advance(10 * time.Second)
	must(v.UpdateRoom(*r.Sid, &openapi.UpdateRoomParams{Status: ptr("completed")}))
	flush(t, srv)
	var events []string
	var done url.Values
	for _, c := range h.all() {
		ev := c.params.Get("StatusCallbackEvent")
		events = append(events, ev)
		if ev == "recording-completed" {
			done = c.params
		}
	}
	want := "room-created participant-connected track-added recording-started track-added track-disabled track-enabled " +
		"track-removed track-removed participant-disconnected recording-completed room-ended"
	if got := strings.Join(events, " "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	if done.Get("SourceSid") != mic || done.Get("Duration") != "10" || done.Get("Container") != "mka" ||
		done.Get("Codec") != "OPUS" || done.Get("TrackName") != "mic" || done.Get("Type") != "audio" ||
		!strings.HasPrefix(done.Get("RecordingSid"), "RT") || done.Get("MediaUri") == "" {
		t.Fatalf("recording-completed = %v", done)
	}
}
