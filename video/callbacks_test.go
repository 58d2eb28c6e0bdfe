package video_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// cbEnv is an emulator, a Client wired to it, and an HTTP server running the
// Client's webhook handlers at /status and /alerts, as Twilio would call them.
type cbEnv struct {
	srv      *videotest.Server
	vq       *video.Client
	hs       *httptest.Server
	mux      *http.ServeMux
	opts     []video.HandlerOption
	handlers struct {
		sync.RWMutex
		status, alerts http.Handler
	}
}

// setHandlers serves vq's handlers (with e's options) from now on.
func (e *cbEnv) setHandlers(vq *video.Client) {
	e.handlers.Lock()
	e.handlers.status = vq.StatusCallbackHandler(e.opts...)
	e.handlers.alerts = vq.AlertHandler(e.opts...)
	e.handlers.Unlock()
}

func (e *cbEnv) statusURL() string { return e.hs.URL + "/status" }
func (e *cbEnv) alertURL() string  { return e.hs.URL + "/alerts" }

// newCBEnv starts the handler server first (its URL goes into the emulator's
// options), then the emulator and the Client. mod may adjust the emulator's
// options once the handler URLs are known.
func newCBEnv(t testing.TB, mod func(o *videotest.Options, e *cbEnv), hopts []video.HandlerOption, copts ...video.Option) *cbEnv {
	t.Helper()
	e := &cbEnv{mux: http.NewServeMux(), opts: hopts}
	h := &e.handlers
	e.mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		h.RLock()
		defer h.RUnlock()
		h.status.ServeHTTP(w, r)
	})
	e.mux.HandleFunc("/alerts", func(w http.ResponseWriter, r *http.Request) {
		h.RLock()
		defer h.RUnlock()
		h.alerts.ServeHTTP(w, r)
	})
	e.hs = httptest.NewServer(e.mux)
	t.Cleanup(e.hs.Close)
	o := videotest.Options{ReadsPerSecond: -1, WritesPerSecond: -1, Seed: 42}
	if mod != nil {
		mod(&o, e)
	}
	e.srv = videotest.NewServer(o)
	t.Cleanup(e.srv.Close)
	keySID, keySecret := e.srv.APIKey()
	all := append([]video.Option{
		video.WithBaseURL(e.srv.URL()),
		video.WithAPIKey(keySID, keySecret),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}),
	}, copts...)
	vq, err := video.New(e.srv.AccountSID(), e.srv.AuthToken(), all...)
	if err != nil {
		t.Fatalf("video.New: %v", err)
	}
	t.Cleanup(func() { vq.Close() })
	e.vq = vq
	e.setHandlers(vq)
	return e
}

func (e *cbEnv) flush(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.srv.FlushCallbacks(ctx); err != nil {
		t.Fatalf("FlushCallbacks: %v", err)
	}
}

// truth lists what the emulator holds: in-progress Room SIDs and connected
// Participant SIDs, through a separate Client so the one under test is not touched.
func (e *cbEnv) truth(t testing.TB) (rooms, parts []string) {
	t.Helper()
	ctx := context.Background()
	probe, err := video.New(e.srv.AccountSID(), e.srv.AuthToken(), video.WithBaseURL(e.srv.URL()),
		video.WithLimits(quota.Limits{ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	rs, err := probe.ListRoom(ctx, (&openapi.ListRoomParams{}).SetStatus("in-progress").SetPageSize(1000))
	if err != nil {
		t.Fatalf("ListRoom: %v", err)
	}
	for _, r := range rs {
		rooms = append(rooms, *r.Sid)
		ps, err := probe.ListRoomParticipant(ctx, *r.Sid, (&openapi.ListRoomParticipantParams{}).SetStatus("connected"))
		if err != nil {
			t.Fatalf("ListRoomParticipant: %v", err)
		}
		for _, p := range ps {
			parts = append(parts, *p.Sid)
		}
	}
	return rooms, parts
}

// ledgerMismatch describes how the ledger differs from the emulator, "" when
// it holds exactly the emulator's Rooms and Participants.
func (e *cbEnv) ledgerMismatch(t testing.TB) string {
	t.Helper()
	rooms, parts := e.truth(t)
	ctx := context.Background()
	led := e.vq.Ledger()
	var msgs []string
	for _, c := range []struct {
		res  quota.Resource
		sids []string
	}{{quota.Rooms, rooms}, {quota.Participants, parts}} {
		used, _, err := led.Used(ctx, c.res)
		if err != nil {
			t.Fatal(err)
		}
		if used != len(c.sids) {
			msgs = append(msgs, fmt.Sprintf("%s: ledger %d, emulator %d", c.res, used, len(c.sids)))
		}
		missing := 0
		for _, sid := range c.sids {
			if ok, _ := led.Holds(ctx, c.res, sid); !ok {
				missing++
			}
		}
		if missing > 0 {
			msgs = append(msgs, fmt.Sprintf("%s: %d of the emulator's not held", c.res, missing))
		}
	}
	return strings.Join(msgs, "; ")
}

func mustUsed(t testing.TB, vq *video.Client, res quota.Resource) int {
	t.Helper()
	n, _, err := vq.Ledger().Used(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// churn runs 200 Participants through 20 Rooms against the emulator: 16
// REST Rooms created with e's status callback and 4 ad-hoc Rooms created by
// the first connect. Every other Participant leaves, the last ones leave 2
// ad-hoc Rooms (which end by themselves; a third, holding only even-numbered
// Participants, empties too) and 4 REST Rooms are completed with people
// inside. 12 REST Rooms and 1 ad-hoc Room stay in progress.
func churn(t *testing.T, e *cbEnv) {
	t.Helper()
	ctx := context.Background()
	var refs []string
	for i := range 16 {
		p := (&openapi.CreateRoomParams{}).SetUniqueName(fmt.Sprintf("churn-%02d", i)).
			SetStatusCallback(e.statusURL()).SetMaxParticipants(50)
		r, err := e.vq.CreateRoom(ctx, p)
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		refs = append(refs, *r.Sid)
	}
	for i := range 4 {
		refs = append(refs, fmt.Sprintf("adhoc-%d", i))
	}
	for i := range 200 {
		if _, err := e.srv.Connect(refs[i%20], fmt.Sprintf("user-%03d", i)); err != nil {
			t.Fatalf("Connect %d: %v", i, err)
		}
	}
	leave := func(i int) {
		if err := e.srv.Disconnect(refs[i%20], fmt.Sprintf("user-%03d", i)); err != nil {
			t.Fatalf("Disconnect %d: %v", i, err)
		}
	}
	for i := 0; i < 200; i += 2 {
		leave(i)
	}
	for i := 1; i < 200; i += 2 {
		if i%20 >= 18 {
			leave(i)
		}
	}
	for _, sid := range refs[12:16] {
		if _, err := e.vq.UpdateRoom(ctx, sid, (&openapi.UpdateRoomParams{}).SetStatus("completed")); err != nil {
			t.Fatalf("UpdateRoom: %v", err)
		}
	}
}

// churnOptions turns on ad-hoc Rooms reporting to e's handler, and faults.
func churnOptions(f videotest.Faults) func(o *videotest.Options, e *cbEnv) {
	return func(o *videotest.Options, e *cbEnv) {
		o.AdHocRooms = true
		o.AdHocStatusCallback = e.statusURL()
		o.Faults = f
	}
}

// TestCallbacksKeepLedgerTrue: with duplicated and reordered deliveries and
// nothing dropped, the status callbacks alone make the ledger equal to the
// emulator; a reconcile then finds nothing to correct.
func TestCallbacksKeepLedgerTrue(t *testing.T) {
	t.Parallel()
	var stale, events int
	var mu sync.Mutex
	e := newCBEnv(t, churnOptions(videotest.Faults{CallbackDuplicateRate: 0.1, CallbackReorderRate: 0.2}), []video.HandlerOption{video.OnRoomEvent(func(ev video.RoomEvent) {
		mu.Lock()
		defer mu.Unlock()
		events++
		if ev.Stale {
			stale++
		}
	})})
	churn(t, e)
	e.flush(t)
	st := e.srv.Stats()
	if st.CallbacksDuplicated == 0 {
		t.Fatalf("no duplicated callbacks: the fault injection did not run (%+v)", st)
	}
	if st.CallbacksFailed != 0 {
		t.Fatalf("%d callbacks were refused by the handler", st.CallbacksFailed)
	}
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatalf("ledger differs from the emulator without drops: %s", m)
	}
	mu.Lock()
	// Each event reaches the user once: every delivery minus duplicates.
	if want := int(st.CallbacksSent - st.CallbacksDuplicated); events != want {
		t.Errorf("OnRoomEvent called %d times, want %d (sent %d, duplicated %d)", events, want,
			st.CallbacksSent, st.CallbacksDuplicated)
	}
	mu.Unlock()
	d, err := e.vq.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if !d.Zero() {
		t.Errorf("reconcile after exact callbacks corrected %v", d)
	}
	t.Logf("stats: sent %d duplicated %d; stale events %d; reconcile %v", st.CallbacksSent, st.CallbacksDuplicated, stale, d)
}

// TestCallbacksDroppedThenReconcile: 10% dropped, 10% duplicated, reordered
// deliveries; one reconcile makes the ledger equal to the emulator, and the
// drift it reports is what it corrected.
func TestCallbacksDroppedThenReconcile(t *testing.T) {
	t.Parallel()
	e := newCBEnv(t, churnOptions(videotest.Faults{CallbackDropRate: 0.1, CallbackDuplicateRate: 0.1, CallbackReorderRate: 0.2,
		CallbackDelayRate: 0.05, CallbackDelay: 20 * time.Millisecond}), nil)
	churn(t, e)
	e.flush(t)
	st := e.srv.Stats()
	if st.CallbacksDropped == 0 || st.CallbacksDuplicated == 0 {
		t.Fatalf("fault injection did not run: %+v", st)
	}
	before := [2]int{mustUsed(t, e.vq, quota.Rooms), mustUsed(t, e.vq, quota.Participants)}
	mismatch := e.ledgerMismatch(t)
	d, err := e.vq.Reconcile(context.Background())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatalf("after reconcile the ledger differs from the emulator: %s (drift %v)", m, d)
	}
	for i, rd := range []video.ResourceDrift{d.Rooms, d.Participants} {
		if got := before[i] + rd.Added - rd.Removed; got != rd.Twilio {
			t.Errorf("resource %d: before %d + added %d - removed %d = %d, want Twilio's %d",
				i, before[i], rd.Added, rd.Removed, got, rd.Twilio)
		}
	}
	if (mismatch == "") != d.Zero() {
		t.Errorf("mismatch before reconcile %q but drift %v", mismatch, d)
	}
	// 13 in-progress Rooms: one page of Rooms, one page of Participants each.
	if d.Requests != 14 {
		t.Errorf("reconcile sent %d requests, want 14", d.Requests)
	}
	t.Logf("dropped %d duplicated %d; before reconcile: %q; drift %v", st.CallbacksDropped, st.CallbacksDuplicated, mismatch, d)
}

// signedPost builds a status callback or Debugger request as Twilio sends it.
func signedPost(token, target string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", videotest.Signature(token, target, form))
	return r
}

const (
	testRoom  = "RM0123456789abcdef0123456789abcdef"
	testPart  = "PA0123456789abcdef0123456789abcdef"
	testPart2 = "PAfedcba9876543210fedcba9876543210"
)

func roomForm(account, event, roomSID, partSID, ts string) url.Values {
	v := url.Values{}
	v.Set("AccountSid", account)
	v.Set("RoomSid", roomSID)
	v.Set("RoomName", "unit")
	v.Set("RoomStatus", "in-progress")
	v.Set("RoomType", "group")
	v.Set("StatusCallbackEvent", event)
	v.Set("Timestamp", ts)
	v.Set("SequenceNumber", "0")
	if partSID != "" {
		v.Set("ParticipantSid", partSID)
		v.Set("ParticipantIdentity", "id-"+partSID)
		v.Set("ParticipantStatus", "connected")
		if event == video.EventParticipantDisconnected {
			v.Set("ParticipantStatus", "disconnected")
			v.Set("ParticipantDuration", "12")
		}
	}
	return v
}

// offlineNow is the clock of offline Clients: a minute after the
// Timestamps of the callbacks the tests forge.
var offlineNow = time.Date(2026, 11, 26, 10, 1, 0, 0, time.UTC)

// offline returns a Client that never reaches a server (the handlers under
// test send nothing) and its auth token.
func offline(t testing.TB, opts ...video.Option) (*video.Client, string) {
	t.Helper()
	const token = "0123456789abcdef0123456789abcdef"
	vq, err := video.New("AC0123456789abcdef0123456789abcdef", token,
		append([]video.Option{video.WithBaseURL("http://127.0.0.1:1"), video.WithClock(clockFunc(func() time.Time { return offlineNow }))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vq.Close() })
	return vq, token
}

// TestStatusCallbackRejects: forged, unsigned, oversized, truncated and
// malformed requests get the documented status and change nothing.
func TestStatusCallbackRejects(t *testing.T) {
	vq, token := offline(t)
	h := vq.StatusCallbackHandler(video.WithMaxBody(1024))
	const target = "http://example.test/status"
	acct := vq.AccountSID()
	good := roomForm(acct, video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
	cases := []struct {
		name string
		req  func() *http.Request
		want int
	}{
		{"unsigned", func() *http.Request {
			r := signedPost(token, target, good)
			r.Header.Del("X-Twilio-Signature")
			return r
		}, http.StatusForbidden},
		{"wrong token", func() *http.Request { return signedPost("not-the-token", target, good) }, http.StatusForbidden},
		{"other URL", func() *http.Request {
			r := signedPost(token, "http://example.test/other", good)
			r.URL.Path = "/status"
			return httptest.NewRequest(http.MethodPost, target, strings.NewReader(good.Encode()))
		}, http.StatusForbidden},
		{"tampered", func() *http.Request {
			r := signedPost(token, target, good)
			bad := roomForm(acct, video.EventParticipantConnected, testRoom, testPart2, "2026-11-26T10:00:00Z")
			sig := r.Header.Get("X-Twilio-Signature")
			r = httptest.NewRequest(http.MethodPost, target, strings.NewReader(bad.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Twilio-Signature", sig)
			return r
		}, http.StatusForbidden},
		{"truncated", func() *http.Request {
			body := good.Encode()
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body[:len(body)/2]))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Twilio-Signature", videotest.Signature(token, target, good))
			return r
		}, http.StatusForbidden},
		{"oversized", func() *http.Request {
			big := roomForm(acct, video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
			big.Set("Padding", strings.Repeat("x", 2048))
			return signedPost(token, target, big)
		}, http.StatusRequestEntityTooLarge},
		{"json body", func() *http.Request {
			r := signedPost(token, target, good)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusUnsupportedMediaType},
		{"PUT", func() *http.Request {
			r := signedPost(token, target, good)
			r.Method = http.MethodPut
			return r
		}, http.StatusMethodNotAllowed},
		{"missing RoomSid", func() *http.Request {
			v := roomForm(acct, video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
			v.Del("RoomSid")
			return signedPost(token, target, v)
		}, http.StatusBadRequest},
		{"bad ParticipantSid", func() *http.Request {
			return signedPost(token, target, roomForm(acct, video.EventParticipantConnected, testRoom, "PA123", "2026-11-26T10:00:00Z"))
		}, http.StatusBadRequest},
		{"bad Timestamp", func() *http.Request {
			return signedPost(token, target, roomForm(acct, video.EventParticipantConnected, testRoom, testPart, "yesterday"))
		}, http.StatusBadRequest},
		{"other account", func() *http.Request {
			return signedPost(token, target, roomForm("AC"+strings.Repeat("f", 32), video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z"))
		}, http.StatusBadRequest},
		// A value appended to a signed body: Twilio's helper libraries
		// (twilio-node, twilio-python) sign every value of a repeated name,
		// so the first-value-only signature does not cover it.
		{"repeated parameter", func() *http.Request {
			v := roomForm(acct, video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
			v.Add("RoomSid", testRoom)
			return signedPost(token, target, v)
		}, http.StatusForbidden},
		{"forged, 9,000 parameters", func() *http.Request {
			v := roomForm(acct, video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
			for i := range 9000 {
				v.Set(fmt.Sprintf("p%d", i), "x")
			}
			r := signedPost(token, target, v)
			r.Header.Set("X-Twilio-Signature", videotest.Signature(token, target, url.Values{}))
			return r
		}, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, c.req())
			if w.Code != c.want {
				t.Errorf("status %d, want %d", w.Code, c.want)
			}
			for _, res := range []quota.Resource{quota.Rooms, quota.Participants} {
				if n := mustUsed(t, vq, res); n != 0 {
					t.Errorf("%s used %d after a rejected request", res, n)
				}
			}
		})
	}
	// The same request correctly signed is accepted: the cases above failed
	// for the reason they name.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedPost(token, target, good))
	if w.Code != http.StatusOK || mustUsed(t, vq, quota.Participants) != 1 || mustUsed(t, vq, quota.Rooms) != 1 {
		t.Fatalf("valid callback: status %d, participants %d, rooms %d", w.Code,
			mustUsed(t, vq, quota.Participants), mustUsed(t, vq, quota.Rooms))
	}
}

// TestStatusCallbackOrderAndDuplicates drives the handler directly with
// every interleaving that matters.
func TestStatusCallbackOrderAndDuplicates(t *testing.T) {
	const target = "http://example.test/status"
	ts := func(s int) string {
		return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second).Format(time.RFC3339)
	}
	type step struct {
		event, part string
		at          int
	}
	created := step{video.EventRoomCreated, "", 0}
	conn1 := step{video.EventParticipantConnected, testPart, 1}
	conn2 := step{video.EventParticipantConnected, testPart2, 2}
	disc1 := step{video.EventParticipantDisconnected, testPart, 3}
	ended := step{video.EventRoomEnded, "", 4}
	cases := []struct {
		name        string
		steps       []step
		rooms, part int
		calls       int // OnRoomEvent calls
	}{
		{"in order", []step{created, conn1, conn2, disc1}, 1, 1, 4},
		{"duplicates", []step{created, created, conn1, conn1, conn2, disc1, disc1}, 1, 1, 4},
		{"disconnect before connect", []step{created, disc1, conn1, conn2}, 1, 1, 4},
		{"participant before room-created", []step{conn1, created}, 1, 1, 2},
		{"ended first", []step{ended, conn1, created, conn2, disc1}, 0, 0, 5},
		{"ended releases everyone", []step{created, conn1, conn2, ended, disc1}, 0, 0, 5},
		{"room never seen", []step{disc1}, 0, 0, 1},
		{"unknown event", []step{{"room-renamed", "", 5}, created}, 1, 0, 2},
		{"replayed long after", []step{{video.EventParticipantConnected, testPart, -3600}}, 0, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vq, token := offline(t)
			calls := 0
			h := vq.StatusCallbackHandler(video.OnRoomEvent(func(video.RoomEvent) { calls++ }))
			for _, s := range c.steps {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, signedPost(token, target, roomForm(vq.AccountSID(), s.event, testRoom, s.part, ts(s.at))))
				if w.Code != http.StatusOK {
					t.Fatalf("%s: status %d", s.event, w.Code)
				}
			}
			if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != c.rooms || p != c.part {
				t.Errorf("rooms %d participants %d, want %d and %d", r, p, c.rooms, c.part)
			}
			if calls != c.calls {
				t.Errorf("OnRoomEvent called %d times, want %d", calls, c.calls)
			}
		})
	}
}

// TestStatusCallbackAfterRESTRelease: a Room completed through REST (its
// slots released at once, as UpdateRoom does) still ends its Participants
// when room-ended arrives: a later participant-disconnected is stale, and
// nothing is held.
func TestStatusCallbackAfterRESTRelease(t *testing.T) {
	const target = "http://example.test/status"
	vq, token := offline(t)
	var stale []string
	h := vq.StatusCallbackHandler(video.OnRoomEvent(func(e video.RoomEvent) {
		if e.Stale {
			stale = append(stale, e.Event)
		}
	}))
	post := func(event, part, ts string) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedPost(token, target, roomForm(vq.AccountSID(), event, testRoom, part, ts)))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", event, w.Code)
		}
	}
	post(video.EventRoomCreated, "", "2026-11-26T10:00:00Z")
	post(video.EventParticipantConnected, testPart, "2026-11-26T10:00:01Z")
	if err := vq.ReleaseRoom(context.Background(), testRoom); err != nil {
		t.Fatal(err)
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 0 || p != 0 {
		t.Fatalf("after ReleaseRoom: rooms %d participants %d, want 0 and 0", r, p)
	}
	post(video.EventRoomEnded, "", "2026-11-26T10:00:03Z")
	post(video.EventParticipantDisconnected, testPart, "2026-11-26T10:00:02Z")
	if len(stale) != 1 || stale[0] != video.EventParticipantDisconnected {
		t.Errorf("stale events %v, want the participant-disconnected after room-ended only", stale)
	}
	if r, p := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants); r != 0 || p != 0 {
		t.Errorf("rooms %d participants %d, want 0 and 0", r, p)
	}
}

// TestStatusCallbackGET: GET callbacks (StatusCallbackMethod=GET) are signed
// over the URL with its query, and WithPublicURL validates behind a proxy.
func TestStatusCallbackGET(t *testing.T) {
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) {
		o.AdHocRooms = true
		o.AdHocStatusCallback = e.statusURL()
		o.AdHocStatusCallbackMethod = "GET"
	}, nil)
	if _, err := e.srv.Connect("get-room", "alice"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	if st := e.srv.Stats(); st.CallbacksFailed != 0 || st.CallbacksSent != 2 {
		t.Fatalf("callbacks: %+v", st)
	}
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatal(m)
	}

	// Behind a proxy: Twilio signs the public URL, the handler sees another.
	vq, token := offline(t)
	const public = "https://public.example/hooks/status"
	h := vq.StatusCallbackHandler(video.WithPublicURL(public))
	form := roomForm(vq.AccountSID(), video.EventRoomCreated, testRoom, "", "2026-11-26T10:00:00Z")
	full := public + "?" + form.Encode()
	r := httptest.NewRequest(http.MethodGet, "http://10.0.0.7:8080/internal?"+form.Encode(), nil)
	r.Header.Set("X-Twilio-Signature", videotest.Signature(token, full, nil))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || mustUsed(t, vq, quota.Rooms) != 1 {
		t.Fatalf("GET behind proxy: status %d, rooms %d", w.Code, mustUsed(t, vq, quota.Rooms))
	}
	// Without the option the same request fails validation.
	w = httptest.NewRecorder()
	r.Header.Set("X-Twilio-Signature", videotest.Signature(token, full, nil))
	vq.StatusCallbackHandler().ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("without WithPublicURL: status %d, want 403", w.Code)
	}
}

// TestCloseEmptyRooms: the last Participant leaving a REST Room completes it
// through UpdateRoom at once, instead of after EmptyRoomTimeout.
func TestCloseEmptyRooms(t *testing.T) {
	e := newCBEnv(t, nil, []video.HandlerOption{video.WithCloseEmptyRooms(0)})
	ctx := context.Background()
	r, err := e.vq.CreateRoom(ctx, (&openapi.CreateRoomParams{}).SetUniqueName("closing").SetStatusCallback(e.statusURL()))
	if err != nil {
		t.Fatal(err)
	}
	keep, err := e.vq.CreateRoom(ctx, (&openapi.CreateRoomParams{}).SetUniqueName("kept").SetStatusCallback(e.statusURL()))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := e.srv.Connect(*r.Sid, id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.srv.Connect(*keep.Sid, id); err != nil {
			t.Fatal(err)
		}
	}
	e.flush(t)
	writes := e.srv.Stats().Writes
	if err := e.srv.Disconnect(*r.Sid, "a"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Disconnect(*keep.Sid, "a"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	video.WaitBackground(e.vq)
	if n := e.srv.Stats().Writes; n != writes {
		t.Fatalf("a room with a participant left was completed (%d writes)", n-writes)
	}
	if err := e.srv.Disconnect(*r.Sid, "b"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	video.WaitBackground(e.vq)
	e.flush(t) // the room-ended of the completion
	got, err := e.vq.FetchRoom(ctx, *r.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Status != "completed" {
		t.Fatalf("empty room status %q, want completed", *got.Status)
	}
	if n := e.srv.Stats().Writes; n != writes+1 {
		t.Errorf("%d writes to complete one room, want 1", n-writes)
	}
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatal(m)
	}
	if n := mustUsed(t, e.vq, quota.Rooms); n != 1 {
		t.Errorf("rooms used %d, want 1", n)
	}
}

// TestCloseEmptyRoomsChecksFirst: when participant-connected was lost, the
// handler believes the Room empty; the read before completing finds the
// Participant and leaves the Room alone.
func TestCloseEmptyRoomsChecksFirst(t *testing.T) {
	e := newCBEnv(t, nil, []video.HandlerOption{video.WithCloseEmptyRooms(0)})
	ctx := context.Background()
	r, err := e.vq.CreateRoom(ctx, (&openapi.CreateRoomParams{}).SetUniqueName("lost").SetStatusCallback(e.statusURL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Connect(*r.Sid, "seen"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	e.srv.SetFaults(videotest.Faults{CallbackDropRate: 1})
	if _, err := e.srv.Connect(*r.Sid, "unseen"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	e.srv.SetFaults(videotest.Faults{})
	reads, writes := e.srv.Stats().Reads, e.srv.Stats().Writes
	if err := e.srv.Disconnect(*r.Sid, "seen"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	video.WaitBackground(e.vq)
	st := e.srv.Stats()
	if st.Reads != reads+1 || st.Writes != writes {
		t.Fatalf("reads +%d writes +%d, want one read and no write", st.Reads-reads, st.Writes-writes)
	}
	got, err := e.vq.FetchRoom(ctx, *r.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Status != "in-progress" {
		t.Fatalf("room with a participant was %s", *got.Status)
	}
}

// TestHandlerOptionsValidated: an invalid HandlerOption never panics. A
// handler built with one (the Client's and the Accounts' status callback
// and alert handlers) answers 500 to a signed callback that would take a
// slot, takes none, and logs at Error a message naming the option;
// PollAlerts returns a *ConfigError naming it.
func TestHandlerOptionsValidated(t *testing.T) {
	for name, opt := range map[string]video.HandlerOption{
		"WithPublicURL":       video.WithPublicURL("not a url"),
		"WithURLFunc":         video.WithURLFunc(nil),
		"WithMaxBody":         video.WithMaxBody(0),
		"WithMaxClockSkew":    video.WithMaxClockSkew(0),
		"OnRoomEvent":         video.OnRoomEvent(nil),
		"OnAlert":             video.OnAlert(nil),
		"WithCloseEmptyRooms": video.WithCloseEmptyRooms(-time.Second),
		"option 1 is nil":     nil,
	} {
		t.Run(name, func(t *testing.T) {
			var logs logSink
			vq, token := offline(t, video.WithLogger(logs.logger()))
			accts, err := video.NewAccounts(func(context.Context, string) (video.Account, error) {
				return video.Account{}, video.ErrUnknownAccount
			}, video.WithLogger(logs.logger()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = accts.Close() })
			opts := []video.HandlerOption{video.WithMaxBody(1 << 20), opt}
			handlers := map[string]http.Handler{
				"Client.StatusCallbackHandler":   vq.StatusCallbackHandler(opts...),
				"Client.AlertHandler":            vq.AlertHandler(opts...),
				"Accounts.StatusCallbackHandler": accts.StatusCallbackHandler(opts...),
				"Accounts.AlertHandler":          accts.AlertHandler(opts...),
			}
			form := roomForm(vq.AccountSID(), video.EventRoomCreated, testRoom, "", "2026-11-26T10:00:00Z")
			for hname, h := range handlers {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, signedPost(token, "http://example.test/status", form))
				if w.Code != http.StatusInternalServerError {
					t.Errorf("%s: status %d, want 500", hname, w.Code)
				}
			}
			if n := mustUsed(t, vq, quota.Rooms); n != 0 {
				t.Errorf("%d Rooms held after refused callbacks", n)
			}
			// Each handler logs once when built and once at its first request.
			if n := strings.Count(logs.String(), "level=ERROR"); n != 2*len(handlers) || strings.Count(logs.String(), name) < 2*len(handlers) {
				t.Errorf("want %d Error lines naming %s, got %d:\n%s", 2*len(handlers), name, n, logs.String())
			}
			err = vq.PollAlerts(context.Background(), time.Minute, opts...)
			if ce := (*video.ConfigError)(nil); !errors.As(err, &ce) || !strings.Contains(err.Error(), name) ||
				!strings.HasPrefix(err.Error(), "video: ") {
				t.Errorf("PollAlerts: %v; want a *video.ConfigError naming %s", err, name)
			}
		})
	}
}

// FuzzStatusCallbackHandler: no input panics the handler, an unsigned or
// wrongly signed request never changes the ledger, and a rejected one never does.
func FuzzStatusCallbackHandler(f *testing.F) {
	acct := "AC0123456789abcdef0123456789abcdef"
	for _, ev := range []string{video.EventRoomCreated, video.EventParticipantConnected, video.EventParticipantDisconnected, video.EventRoomEnded, "track-added"} {
		f.Add(roomForm(acct, ev, testRoom, testPart, "2026-11-26T10:00:00Z").Encode(), true, false)
		f.Add(roomForm(acct, ev, testRoom, testPart, "2026-11-26T10:00:00Z").Encode(), false, true)
	}
	f.Add("RoomSid=%zz&StatusCallbackEvent=room-created", true, false)
	f.Add("StatusCallbackEvent=participant-connected&RoomSid="+testRoom+"&ParticipantSid="+testPart+"&Timestamp=2026-11-26T10:00:00Z&ParticipantDuration=-1", true, true)
	f.Add("StatusCallbackEvent=room-ended&RoomSid="+testRoom+"&Timestamp=2026-11-26T10:00:00Z&RoomDuration=99999999999999999999", true, false)
	f.Add(strings.Repeat("a=b&", 20000), true, false)
	f.Add("", false, false)
	vq, token := offline(f)
	h := vq.StatusCallbackHandler()
	const target = "http://example.test/status"
	f.Fuzz(func(t *testing.T, body string, sign, get bool) {
		before := [2]int{mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants)}
		var r *http.Request
		form, perr := url.ParseQuery(body)
		if get {
			u := target + "?" + body
			r = httptest.NewRequest(http.MethodGet, target, nil)
			r.URL.RawQuery = body // verbatim, as a server may receive it
			if sign {
				r.Header.Set("X-Twilio-Signature", videotest.Signature(token, u, nil))
			}
		} else {
			r = httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if sign && perr == nil {
				r.Header.Set("X-Twilio-Signature", videotest.Signature(token, target, form))
			} else {
				r.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		after := [2]int{mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants)}
		if w.Code != http.StatusOK && after != before {
			t.Fatalf("status %d but the ledger changed %v -> %v", w.Code, before, after)
		}
		if !sign && w.Code != http.StatusForbidden && w.Code != http.StatusRequestEntityTooLarge &&
			w.Code != http.StatusBadRequest && w.Code != http.StatusRequestURITooLong {
			t.Fatalf("unsigned request answered %d", w.Code)
		}
		if !sign && after != before {
			t.Fatalf("unsigned request changed the ledger")
		}
	})
}

// TestReconcileFindsUnseen: Rooms and Participants the ledger never heard
// of (no status callback configured) are added by one reconcile, and ones
// it holds that Twilio no longer has are removed; OnDrift and the log line
// report it.
func TestReconcileFindsUnseen(t *testing.T) {
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) { o.AdHocRooms = true }, nil)
	ctx := context.Background()
	for i := range 3 {
		for j := range 2 {
			if _, err := e.srv.Connect(fmt.Sprintf("quiet-%d", i), fmt.Sprintf("p%d", j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A Participant the ledger holds that Twilio does not have.
	if err := e.vq.HoldParticipant(ctx, testRoom, testPart); err != nil {
		t.Fatal(err)
	}
	var drifts []video.Drift
	d, err := e.vq.Reconcile(ctx, video.OnDrift(func(d video.Drift) { drifts = append(drifts, d) }))
	if err != nil {
		t.Fatal(err)
	}
	want := video.Drift{Rooms: video.ResourceDrift{Twilio: 3, Added: 3}, Participants: video.ResourceDrift{Twilio: 6, Added: 6, Removed: 1},
		Requests: 4, Listed: 3, Sweep: 1}
	d.At = time.Time{}
	if d != want {
		t.Fatalf("drift %+v, want %+v", d, want)
	}
	if len(drifts) != 1 {
		t.Fatalf("OnDrift called %d times", len(drifts))
	}
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatal(m)
	}
	// The callback memory follows: a Participant leaving now is released.
	if err := e.srv.Disconnect("quiet-0", "p0"); err != nil {
		t.Fatal(err)
	}
	d, err = e.vq.Reconcile(ctx)
	if err != nil || d.Participants.Removed != 1 || d.Rooms.Added+d.Rooms.Removed != 0 {
		t.Fatalf("second reconcile: %+v, %v", d, err)
	}
}

// TestRunReconcilerStops: the loop reconciles every interval and returns
// when ctx ends.
func TestRunReconcilerStops(t *testing.T) {
	e := newCBEnv(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	runs := make(chan video.Drift, 100)
	done := make(chan error, 1)
	go func() {
		done <- e.vq.RunReconciler(ctx, 10*time.Millisecond, video.OnDrift(func(d video.Drift) { runs <- d }))
	}()
	for range 2 {
		select {
		case <-runs:
		case <-time.After(10 * time.Second):
			t.Fatal("reconciler did not run")
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("RunReconciler returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunReconciler did not stop")
	}
	if err := e.vq.RunReconciler(context.Background(), 0); err == nil {
		t.Fatal("interval 0 accepted")
	}
}

// TestReconcileKeepsCallbacksDuringListing: a Participant whose
// participant-connected is applied after Twilio listed the Room's
// Participants but before the ledger is corrected stays held.
func TestReconcileKeepsCallbacksDuringListing(t *testing.T) {
	var hook atomic.Pointer[func()]
	proxy := newRetargetProxy(t, afterListing(&hook))
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) {
		o.AdHocRooms = true
		o.AdHocStatusCallback = e.statusURL()
	}, nil, video.WithBaseURL(proxy.URL))
	proxy.to(t, e.srv.URL())
	if _, err := e.srv.Connect("busy", "first"); err != nil {
		t.Fatal(err)
	}
	e.flush(t)
	join := func() {
		if _, err := e.srv.Connect("busy", "late"); err != nil {
			t.Error(err)
		}
		e.flush(t)
	}
	hook.Store(&join)
	d, err := e.vq.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if hook.Load() != nil {
		t.Fatal("the listing hook did not run")
	}
	if d.Participants.Twilio != 2 || !d.Zero() {
		t.Errorf("drift %v, want 2 participants and nothing corrected", d)
	}
	if m := e.ledgerMismatch(t); m != "" {
		t.Fatal(m)
	}
}

// ExampleClient_StatusCallbackHandler serves the handler where Twilio's
// status callbacks arrive (here the emulator's ad-hoc Rooms report there) and
// watches the ledger follow the Participants.
func ExampleClient_StatusCallbackHandler() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	public := "http://" + ln.Addr().String() + "/twilio/status" // the URL Twilio calls
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true, AdHocStatusCallback: public, CallbackWorkers: 1})
	defer srv.Close()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	defer vq.Close()

	mux := http.NewServeMux()
	mux.Handle("/twilio/status", vq.StatusCallbackHandler(video.OnRoomEvent(func(e video.RoomEvent) {
		fmt.Println(strings.TrimSpace(e.Event + " " + e.RoomName + " " + e.ParticipantIdentity))
	})))
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	defer hs.Close()

	ctx := context.Background()
	srv.Connect("standup", "alice") // client SDKs joining: no REST request
	srv.Connect("standup", "bob")
	srv.FlushCallbacks(ctx)
	used, _, _ := vq.Ledger().Used(ctx, quota.Participants)
	fmt.Println("participants held:", used)
	srv.Disconnect("standup", "bob")
	srv.FlushCallbacks(ctx)
	used, _, _ = vq.Ledger().Used(ctx, quota.Participants)
	fmt.Println("participants held:", used)
	// Output:
	// room-created standup
	// participant-connected standup alice
	// participant-connected standup bob
	// participants held: 2
	// participant-disconnected standup bob
	// participants held: 1
}

// ExampleClient_Reconcile corrects the ledger for Rooms and Participants it
// never heard of (no status callback configured).
func ExampleClient_Reconcile() {
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true})
	defer srv.Close()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
	if err != nil {
		panic(err)
	}
	defer vq.Close()
	srv.Connect("standup", "alice")
	srv.Connect("standup", "bob")

	drift, err := vq.Reconcile(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(drift)
	// Output:
	// rooms 1 (+1 -0), participants 2 (+2 -0) in 1/1 rooms, 2 requests
}

// BenchmarkStatusCallbackHandler measures one signed participant-connected
// callback through the handler: body read, signature check, parse, ledger
// hold (in-memory store). The requests are built before the timer starts,
// so the figures are the handler's alone.
func BenchmarkStatusCallbackHandler(b *testing.B) {
	vq, token := offline(b, video.WithLimits(quota.Limits{ConcurrentParticipants: quota.Unlimited}))
	h := vq.StatusCallbackHandler()
	const target = "http://example.test/status"
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		part := fmt.Sprintf("PA%032x", i)
		form := roomForm(vq.AccountSID(), video.EventParticipantConnected, testRoom, part, "2026-11-26T10:00:00Z")
		reqs[i] = signedPost(token, target, form)
	}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h.ServeHTTP(w, reqs[i])
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkTrackingMemory reports the heap the Client keeps per tracked
// Participant at 10,000 Participants, one in each of 10,000 Rooms and 50
// in each of 200 Rooms, each learnt from a signed room-created or
// participant-connected callback: the quota ledger, the Client's Room ->
// Participant index, its Rooms' names and the callback handler's per-SID
// ordering state together, SID strings included (the Rooms' share counted
// against the Participants). The Rooms are unnamed (their RoomName is
// their SID, Twilio's default UniqueName) or each named (a name of 20
// characters).
func BenchmarkTrackingMemory(b *testing.B) {
	for _, layout := range []struct{ rooms, per int }{{10000, 1}, {200, 50}} {
		for _, named := range []bool{false, true} {
			b.Run(fmt.Sprintf("rooms=%d/per-room=%d/named=%v", layout.rooms, layout.per, named), func(b *testing.B) {
				benchTrackingMemory(b, layout.rooms, layout.per, named)
			})
		}
	}
}

func benchTrackingMemory(b *testing.B, rooms, per int, named bool) {
	n := rooms * per
	const target = "http://example.test/status"
	var perParticipant float64
	for b.Loop() {
		b.StopTimer()
		vq, token := offline(b, video.WithLimits(quota.Limits{ConcurrentRooms: quota.Unlimited, ConcurrentParticipants: quota.Unlimited}))
		h := vq.StatusCallbackHandler()
		forms := make([]url.Values, 0, rooms+n)
		for i := 0; i < rooms; i++ {
			room := fmt.Sprintf("RM%032x", i)
			name := room
			if named {
				name = fmt.Sprintf("daily-standup-%06d", i)
			}
			f := roomForm(vq.AccountSID(), video.EventRoomCreated, room, "", "2026-11-26T10:00:00Z")
			f.Set("RoomName", name)
			forms = append(forms, f)
			for j := 0; j < per; j++ {
				part := fmt.Sprintf("PA%032x", i*per+j)
				f := roomForm(vq.AccountSID(), video.EventParticipantConnected, room, part, "2026-11-26T10:00:01Z")
				f.Set("RoomName", name)
				forms = append(forms, f)
			}
		}
		sigs := make([]string, len(forms))
		for i, f := range forms {
			sigs[i] = videotest.Signature(token, target, f)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		w := httptest.NewRecorder()
		for i, f := range forms {
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(f.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Twilio-Signature", sigs[i])
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(forms) // measured before too: not the Client's
		runtime.KeepAlive(sigs)
		perParticipant = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
		if u := vq.Usage(); u.Participants.Used != n || u.Rooms.Used != rooms {
			b.Fatalf("usage %+v, want %d rooms and %d participants", u, rooms, n)
		}
		runtime.KeepAlive(h)
		vq.Close()
		b.StartTimer()
	}
	b.ReportMetric(perParticipant, "B/participant")
}

// BenchmarkForgedCallback: a forged POST of 9,000 parameters within the
// default body limit, as an attacker would send it, against the handler;
// it must be rejected (403 or 413) without the quadratic string building
// of a naive signature check.
func BenchmarkForgedCallback(b *testing.B) {
	vq, _ := offline(b)
	h := vq.StatusCallbackHandler()
	const target = "http://example.test/status"
	form := roomForm(vq.AccountSID(), video.EventParticipantConnected, testRoom, testPart, "2026-11-26T10:00:00Z")
	for i := range 9000 {
		form.Set(strconv.Itoa(i), "")
	}
	body := form.Encode()
	if len(body) > video.DefaultMaxCallbackBody {
		b.Fatalf("body %d bytes, over the default limit", len(body))
	}
	sig := videotest.Signature("not-the-token", target, form)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden && w.Code != http.StatusRequestEntityTooLarge {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// retargetProxy is a reverse proxy on loopback whose target is set once the
// emulator it stands before exists (the emulator needs the Client's
// handler URLs first); modify, if not nil, sees every response.
type retargetProxy struct {
	*httptest.Server
	target atomic.Pointer[url.URL]
}

func newRetargetProxy(t testing.TB, modify func(*http.Response) error) *retargetProxy {
	p := &retargetProxy{}
	p.Server = httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(p.target.Load()) },
		ModifyResponse: modify,
	})
	t.Cleanup(p.Close)
	return p
}

// to points the proxy at raw.
func (p *retargetProxy) to(t testing.TB, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p.target.Store(u)
}

// afterListing runs the func stored in hook, once, after Twilio answered a
// Participant listing and before the Client sees the answer.
func afterListing(hook *atomic.Pointer[func()]) func(*http.Response) error {
	return func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/Participants") {
			if f := hook.Swap(nil); f != nil {
				(*f)()
			}
		}
		return nil
	}
}
