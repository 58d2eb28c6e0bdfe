package video_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// eventLog collects threshold events.
type eventLog struct {
	mu sync.Mutex
	ev []quota.Event
}

func (l *eventLog) add(e quota.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

// count returns the events from src with code.
func (l *eventLog) count(src quota.Source, code int) []quota.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []quota.Event
	for _, e := range l.ev {
		if e.Source == src && e.Code == code {
			out = append(out, e)
		}
	}
	return out
}

// TestAlert53121ReachesThresholdOnce: the emulator's 53121 Debugger event
// (7 of 10 Rooms) reaches the threshold func exactly once, even when Twilio
// delivers it again; the local ledger (limit 100) has crossed nothing.
func TestAlert53121ReachesThresholdOnce(t *testing.T) {
	var log eventLog
	var alerts []video.AlertEvent
	var amu sync.Mutex
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) {
		o.ConcurrentRooms = 10
		o.DebuggerWebhook = e.alertURL()
	}, []video.HandlerOption{video.OnAlert(func(a video.AlertEvent) {
		amu.Lock()
		alerts = append(alerts, a)
		amu.Unlock()
	})}, video.WithThresholds(log.add), video.WithLimits(quota.Limits{ConcurrentRooms: 100,
		ReadsPerSecond: quota.Unlimited, WritesPerSecond: quota.Unlimited}))
	ctx := context.Background()
	for range 8 {
		if _, err := e.vq.CreateRoom(ctx, &openapi.CreateRoomParams{}); err != nil {
			t.Fatal(err)
		}
	}
	e.flush(t)
	if st := e.srv.Stats(); st.DebuggerEventsSent != 1 || st.DebuggerEventsFailed != 0 {
		t.Fatalf("debugger deliveries: %+v", st)
	}
	amu.Lock()
	if len(alerts) != 1 || alerts[0].Code != 53121 {
		t.Fatalf("OnAlert got %+v, want one 53121", alerts)
	}
	first := alerts[0]
	amu.Unlock()

	// Twilio delivers the same event again: same Sid, same idempotency token.
	form := url.Values{}
	form.Set("Sid", first.SID)
	form.Set("AccountSid", e.srv.AccountSID())
	form.Set("Level", "WARNING")
	form.Set("Timestamp", first.Timestamp.Format(time.RFC3339))
	form.Set("PayloadType", "application/json")
	form.Set("Payload", `{"resource_sid":"`+first.ResourceSID+`","service_sid":null,"error_code":"53121","more_info":{"resource":"rooms"}}`)
	req, _ := http.NewRequest(http.MethodPost, e.alertURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", videotest.Signature(e.srv.AuthToken(), e.alertURL(), form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replayed delivery: status %d", resp.StatusCode)
	}
	e.vq.Close() // delivers the queued threshold events
	got := log.count(quota.SourceTwilio, quota.CodeApproachingQuota)
	if len(got) != 1 {
		t.Fatalf("threshold func got %d Twilio 53121 events, want 1: %+v", len(got), got)
	}
	ev := got[0]
	// The emulator raises 53121 when its 7th Room is created and delivers it
	// while the Client goes on: the local usage the event carries is read when
	// it arrives, after the 6th to the 8th commit.
	if ev.Resource != quota.Rooms || !ev.Rising || ev.Level != 0.7 || ev.Used < 6 || ev.Used > 8 || ev.Limit != 100 {
		t.Errorf("event %+v: want rooms, rising, level 0.7, used 6 to 8 of 100", ev)
	}
	if n := len(log.count(quota.SourceLocal, quota.CodeApproachingQuota)); n != 0 {
		t.Errorf("%d local crossings at 8 of 100", n)
	}
	amu.Lock()
	if len(alerts) != 1 {
		t.Errorf("OnAlert called %d times, want 1", len(alerts))
	}
	amu.Unlock()
}

// TestAlertExceededMarksFull: a 53119 Debugger event marks Rooms full, so the
// next CreateRoom is refused locally (the Client's base URL is unreachable:
// any request would fail otherwise), and fires the threshold func.
func TestAlertExceededMarksFull(t *testing.T) {
	var log eventLog
	vq, token := offline(t, video.WithThresholds(log.add))
	h := vq.AlertHandler()
	const target = "http://example.test/alerts"
	form := alertForm(vq.AccountSID(), "NO0123456789abcdef0123456789abcdef", `{"resource_sid":"`+vq.AccountSID()+`","error_code":"53119"}`)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signedPost(token, target, form))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if _, full, _ := vq.Ledger().Used(context.Background(), quota.Rooms); !full {
		t.Fatal("rooms not marked full after 53119")
	}
	_, err := vq.CreateRoom(context.Background(), &openapi.CreateRoomParams{})
	var ex *quota.ExceededError
	if !errors.As(err, &ex) || ex.Source != quota.SourceLocal || ex.Resource != quota.Rooms {
		t.Fatalf("CreateRoom after 53119: %v, want a local rooms refusal", err)
	}
	if _, full, _ := vq.Ledger().Used(context.Background(), quota.Participants); full {
		t.Fatal("participants marked full by a rooms event")
	}
	vq.Close()
	if got := log.count(quota.SourceTwilio, quota.CodeRoomsExceeded); len(got) != 1 || got[0].Resource != quota.Rooms {
		t.Fatalf("threshold events %+v, want one 53119 for rooms", got)
	}
}

func alertForm(account, sid, payload string) url.Values {
	v := url.Values{}
	v.Set("Sid", sid)
	v.Set("AccountSid", account)
	v.Set("Level", "ERROR")
	v.Set("Timestamp", "2026-11-26T10:00:00Z")
	v.Set("PayloadType", "application/json")
	v.Set("Payload", payload)
	return v
}

// peerAlert runs a 53121 without more_info into a Client watching 70% (its
// events in log) after another Client of the same store (its events in
// other; it watches no level when watch is false) held held of 10
// Participants (Rooms: 0 of 100). It returns how often OnAlert was called.
func peerAlert(t *testing.T, held int, watch bool) (log, other *eventLog, alerts int32) {
	t.Helper()
	log, other = new(eventLog), new(eventLog)
	st := memStore(t)
	limits := video.WithLimits(quota.Limits{ConcurrentRooms: 100, ConcurrentParticipants: 10})
	vq, token := offline(t, video.WithThresholds(log.add), limits, video.WithStore(st))
	peerOpts := []video.Option{limits, video.WithStore(st)}
	if watch {
		peerOpts = append(peerOpts, video.WithThresholds(other.add))
	}
	peer, _ := offline(t, peerOpts...)
	ctx := context.Background()
	for i := range held {
		if err := peer.HoldParticipant(ctx, testRoom, "PA"+strings.Repeat("0", 31)+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	var n atomic.Int32
	w := httptest.NewRecorder()
	vq.AlertHandler(video.OnAlert(func(video.AlertEvent) { n.Add(1) })).ServeHTTP(w, signedPost(token, "http://x.test/a",
		alertForm(vq.AccountSID(), "NO0123456789abcdef0123456789abcdef", `{"error_code":"53121"}`)))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	vq.Close()
	peer.Close()
	return log, other, n.Load()
}

// TestAlertResourceFromLedger: without more_info, a 53121 is attributed to
// the quota the shared ledger has nearest its limit. The Participants (6 of
// 10, Rooms 0 of 100) were held by another Client of the store, which
// crossed nothing; this Client reports Twilio's warning.
func TestAlertResourceFromLedger(t *testing.T) {
	log, other, _ := peerAlert(t, 6, true)
	got := log.count(quota.SourceTwilio, quota.CodeApproachingQuota)
	if len(got) != 1 || got[0].Resource != quota.Participants || got[0].Used != 6 ||
		!got[0].At.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("events %+v, want one for participants at 6, stamped with the alert's Timestamp", got)
	}
	if n := len(log.count(quota.SourceLocal, quota.CodeApproachingQuota)) + len(other.count(quota.SourceLocal, quota.CodeApproachingQuota)); n != 0 {
		t.Fatalf("%d local crossings of 70%% at 6 of 10", n)
	}
}

// TestAlertRepeatsPeerCrossing: another Client of the store held 7 of 10
// Participants and received the store's rising crossing; Twilio's 53121,
// delivered to this Client (the Debugger webhook reaches any replica), is
// passed to OnAlert but is not a second threshold event.
func TestAlertRepeatsPeerCrossing(t *testing.T) {
	log, other, alerts := peerAlert(t, 7, true)
	if alerts != 1 {
		t.Fatalf("OnAlert called %d times, want once", alerts)
	}
	if mine := append(log.count(quota.SourceTwilio, quota.CodeApproachingQuota), log.count(quota.SourceLocal, quota.CodeApproachingQuota)...); len(mine) != 0 {
		t.Fatalf("this Client's threshold events %+v, want none: the peer reported the crossing", mine)
	}
	if theirs := other.count(quota.SourceLocal, quota.CodeApproachingQuota); len(theirs) != 1 || !theirs[0].Rising {
		t.Fatalf("peer's events %+v, want its own rising crossing once", theirs)
	}
}

// TestAlertPeerWithoutThresholds: another Client of the store, one that
// registered no threshold func (so the store decides no crossing of 70%
// for it), held 7 of 10 Participants. Twilio's 53121 reaching this Client,
// which watches 70%, is the only word of the crossing anyone gets: it must
// be a threshold event here, learnt from Twilio, not dropped as a repeat of
// a crossing nobody reported.
func TestAlertPeerWithoutThresholds(t *testing.T) {
	log, _, _ := peerAlert(t, 7, false)
	if mine := log.count(quota.SourceLocal, quota.CodeApproachingQuota); len(mine) != 0 {
		t.Fatalf("events %+v with source local: the crossing was learnt from Twilio", mine)
	}
	got := log.count(quota.SourceTwilio, quota.CodeApproachingQuota)
	if len(got) != 1 || !got[0].Rising || got[0].Resource != quota.Participants || got[0].Used != 7 {
		t.Fatalf("this Client's threshold events %+v, want one rising for participants at 7, learnt from Twilio", got)
	}
}

func TestAlertRejects(t *testing.T) {
	var log eventLog
	vq, token := offline(t, video.WithThresholds(log.add))
	h := vq.AlertHandler()
	const target = "http://example.test/alerts"
	sid := "NO0123456789abcdef0123456789abcdef"
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"forged", signedPost("wrong", target, alertForm(vq.AccountSID(), sid, `{"error_code":"53119"}`)), http.StatusForbidden},
		{"not JSON", signedPost(token, target, alertForm(vq.AccountSID(), sid, `{"error_code":`)), http.StatusBadRequest},
		{"no code", signedPost(token, target, alertForm(vq.AccountSID(), sid, `{"resource_sid":"x"}`)), http.StatusBadRequest},
		{"bad Sid", signedPost(token, target, alertForm(vq.AccountSID(), "NO1", `{"error_code":"53119"}`)), http.StatusBadRequest},
		{"other account", signedPost(token, target, alertForm("AC"+strings.Repeat("e", 32), sid, `{"error_code":"53119"}`)), http.StatusBadRequest},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, c.req)
		if w.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, w.Code, c.want)
		}
	}
	if _, full, _ := vq.Ledger().Used(context.Background(), quota.Rooms); full {
		t.Fatal("a rejected event marked rooms full")
	}
	vq.Close()
	if len(log.ev) != 0 {
		t.Fatalf("rejected events fired %+v", log.ev)
	}
}

// TestPollAlerts: without a webhook, the Monitor poller finds the 53121 and
// fires the threshold func once across several polls, then stops with ctx.
func TestPollAlerts(t *testing.T) {
	t.Parallel()
	var log eventLog
	e := newCBEnv(t, func(o *videotest.Options, e *cbEnv) { o.ConcurrentRooms = 10 }, nil,
		video.WithThresholds(log.add))
	ctx := context.Background()
	for range 7 {
		if _, err := e.vq.CreateRoom(ctx, &openapi.CreateRoomParams{}); err != nil {
			t.Fatal(err)
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	seen := make(chan video.AlertEvent, 16)
	done := make(chan error, 1)
	go func() {
		done <- e.vq.PollAlerts(pctx, 20*time.Millisecond, video.OnAlert(func(a video.AlertEvent) { seen <- a }))
	}()
	select {
	case a := <-seen:
		if a.Code != 53121 || !a.Polled {
			t.Errorf("polled %+v, want 53121", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert polled")
	}
	for e.srv.Stats().MonitorReads < 2 { // the next poll sees the same alert (one poll per second at most)
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("PollAlerts returned %v, want context.Canceled", err)
	}
	e.vq.Close()
	if got := log.count(quota.SourceTwilio, quota.CodeApproachingQuota); len(got) != 1 {
		t.Fatalf("threshold func got %d Twilio 53121 events, want 1", len(got))
	}
	if len(seen) != 0 {
		t.Fatalf("alert passed on again")
	}
}

// FuzzAlertHandler: no input panics the handler and an unsigned request
// never changes the ledger or fires a threshold func.
func FuzzAlertHandler(f *testing.F) {
	acct := "AC0123456789abcdef0123456789abcdef"
	sid := "NO0123456789abcdef0123456789abcdef"
	for _, p := range []string{`{"error_code":"53121","more_info":{"resource":"rooms"}}`, `{"error_code":"53119"}`,
		`{"error_code":"53206"}`, `{"error_code":20429}`, `{"error_code":"abc"}`, `[]`, `null`, `{"error_code":"53121","more_info":"x"}`} {
		f.Add(alertForm(acct, sid, p).Encode(), true)
		f.Add(alertForm(acct, sid, p).Encode(), false)
	}
	f.Add("Payload=%7B", true)
	// Signed requests go to a Client of their own: what they change (a
	// threshold event is delivered on the ledger's goroutine, later) never
	// shows in the Client that only unsigned requests reach.
	signed, token := offline(f)
	hs := signed.AlertHandler()
	var log eventLog
	vq, _ := offline(f, video.WithThresholds(log.add))
	h := vq.AlertHandler()
	const target = "http://example.test/alerts"
	f.Fuzz(func(t *testing.T, body string, sign bool) {
		form, perr := url.ParseQuery(body)
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sign && perr == nil {
			r.Header.Set("X-Twilio-Signature", videotest.Signature(token, target, form))
			hs.ServeHTTP(httptest.NewRecorder(), r)
			return
		}
		r.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
		_, fullBefore, _ := vq.Ledger().Used(context.Background(), quota.Rooms)
		log.mu.Lock()
		n := len(log.ev)
		log.mu.Unlock()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			t.Fatalf("unsigned request accepted")
		}
		_, fullAfter, _ := vq.Ledger().Used(context.Background(), quota.Rooms)
		log.mu.Lock()
		m := len(log.ev)
		log.mu.Unlock()
		if fullAfter != fullBefore || m != n {
			t.Fatalf("unsigned request changed state")
		}
	})
}

// ExampleClient_AlertHandler receives the Console Debugger webhook: Twilio's
// warning 53121 (70% of a concurrency quota) reaches the threshold func.
func ExampleClient_AlertHandler() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := videotest.NewServer(videotest.Options{ConcurrentRooms: 10,
		DebuggerWebhook: "http://" + ln.Addr().String() + "/twilio/debugger"})
	defer srv.Close()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithThresholds(func(e quota.Event) {
			if e.Source == quota.SourceTwilio {
				fmt.Printf("Twilio says: %s at %.0f%% (code %d)\n", e.Resource, e.Level*100, e.Code)
			}
		}))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/twilio/debugger", vq.AlertHandler())
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	defer hs.Close()

	ctx := context.Background()
	for range 7 {
		vq.CreateRoom(ctx, &openapi.CreateRoomParams{})
	}
	srv.FlushCallbacks(ctx)
	vq.Close() // delivers the queued threshold events
	// Output:
	// Twilio says: rooms at 70% (code 53121)
}
