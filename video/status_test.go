package video_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/quota/redisstore"
	"github.com/videoquota/videoquota/quota/redisstore/redistest"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// get fetches path from the status server with accept and returns the
// response and its body.
func get(t *testing.T, url, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func statusJSON(t *testing.T, url string) video.StatusReport {
	t.Helper()
	resp, body := get(t, url, "application/json")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET json: %s %q: %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var rep video.StatusReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, body)
	}
	return rep
}

func TestStatusHandler(t *testing.T) {
	srv, vq := setup(t, videotest.Options{ConcurrentRooms: 10}, video.WithLimits(quota.Limits{ConcurrentRooms: 10}))
	ctx := context.Background()
	const name = `<img src=x onerror=alert(1)>&"standup"`
	rm, err := vq.CreateRoom(ctx, room(name))
	if err != nil {
		t.Fatal(err)
	}
	_ = srv
	hs := httptest.NewServer(vq.StatusHandler())
	defer hs.Close()

	rep := statusJSON(t, hs.URL)
	if len(rep.Resources) != 2 || rep.Resources[0].Resource != "rooms" || rep.Resources[0].Used != 1 || rep.Resources[0].Limit != 10 {
		t.Fatalf("resources: %+v", rep.Resources)
	}
	if u := rep.Resources[0].Utilization; u != 0.1 {
		t.Errorf("rooms utilization %v, want 0.1", u)
	}
	if len(rep.Classes) != 2 || rep.Classes[1].Class != "write" || rep.Classes[1].Requests != 1 || rep.Classes[1].RatePerSecond != quota.DefaultLimits().WritesPerSecond {
		t.Errorf("classes: %+v", rep.Classes)
	}
	if len(rep.Rooms) != 1 || rep.Rooms[0].Name != name || rep.Rooms[0].SID != *rm.Sid || rep.Rooms[0].Status != "in-progress" {
		t.Errorf("rooms: %+v, want the Room created", rep.Rooms)
	}
	if len(rep.Resources[0].History) == 0 || rep.Resources[0].History[len(rep.Resources[0].History)-1] != 1 {
		t.Errorf("rooms history %v, want the last sample at 1", rep.Resources[0].History)
	}
	if rep.Peaks.Rooms != 1 || !rep.Peaks.Shared || len(rep.Peaks.Hourly) != 1 {
		t.Errorf("peaks: %+v, want one hour with a peak of one Room, from the store", rep.Peaks)
	}
	if _, err := vq.UpdateRoom(ctx, *rm.Sid, completed()); err != nil {
		t.Fatal(err)
	}
	// Status takes a new snapshot; the handler may serve one up to 100 ms old.
	rep = vq.Status()
	if rep.Resources[0].Used != 0 || len(rep.Rooms) != 1 || rep.Rooms[0].Status != "completed" || rep.Rooms[0].Name != name {
		t.Errorf("after completing: used %d, rooms %+v", rep.Resources[0].Used, rep.Rooms)
	}

	// The page: self-contained, the name only escaped.
	resp, page := get(t, hs.URL, "text/html,application/xhtml+xml,*/*;q=0.8")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET html: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not forbid external assets", csp)
	}
	if strings.Contains(page, "<img") || strings.Contains(page, `src="http`) || strings.Contains(page, `href="http`) {
		t.Errorf("page holds raw markup from a Room name or an external asset")
	}
	if !strings.Contains(page, `\u003cimg src=x onerror=alert(1)\u003e`) {
		t.Errorf("page does not carry the Room name as escaped data")
	}
	// No Accept header: the page, too.
	if resp, _ := get(t, hs.URL, ""); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("no Accept: %q, want the page", resp.Header.Get("Content-Type"))
	}

	// Read-only.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, _ := http.NewRequest(m, hs.URL, strings.NewReader("x=1"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %s, Allow %q; want 405, GET, HEAD", m, resp.Status, resp.Header.Get("Allow"))
		}
	}
	if resp, body := get(t, hs.URL+"?peaks=week.xml", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("?peaks=week.xml: %s %s", resp.Status, body)
	}
}

func TestStatusShowsNoSecrets(t *testing.T) {
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true})
	t.Cleanup(srv.Close)
	keySID, keySecret := srv.APIKey()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()), video.WithAPIKey(keySID, keySecret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vq.Close() })
	ctx := context.Background()
	const identity = "alice.identity@example.com"
	token, err := vq.JoinToken(ctx, "standup", identity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ConnectWithToken(token, "standup"); err != nil {
		t.Fatal(err)
	}
	if err := vq.HoldParticipant(ctx, "RM"+strings.Repeat("a", 32), "PA"+strings.Repeat("b", 32)); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(vq.StatusHandler())
	defer hs.Close()
	rep := statusJSON(t, hs.URL)
	if rep.Resources[1].Used == 0 {
		t.Fatalf("participants used 0: the test did not reach the ledger")
	}
	secrets := map[string]string{"auth token": srv.AuthToken(), "API key secret": keySecret, "API key SID": keySID,
		"access token": token, "identity": identity, "account SID": srv.AccountSID()}
	for _, q := range []string{"", "?format=json", "?peaks=hour.csv", "?peaks=day.json"} {
		for _, accept := range []string{"text/html", "application/json"} {
			_, body := get(t, hs.URL+q, accept)
			for what, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("GET %q (%s) shows the %s", q, accept, what)
				}
			}
		}
	}
}

// handClock is a clock tests move by hand.
type handClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *handClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *handClock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *handClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const testAccount = "AC0123456789abcdef0123456789abcdef"

func roomSID(i int) string        { return fmt.Sprintf("RM%032x", i) }
func participantSID(i int) string { return fmt.Sprintf("PA%032x", i) }

// replayHour raises rooms to peakRooms and participants to peakParts over
// the hour, one operation a minute-ish, then gives everything back.
func replayHour(t *testing.T, ctx context.Context, vq *video.Client, clock *handClock, hourStart time.Time, peakRooms, peakParts int) {
	t.Helper()
	base := int(hourStart.Unix()/3600) * 1000 // a Room SID is never used again
	clock.set(hourStart.Add(time.Minute))
	for i := range peakRooms {
		if err := vq.HoldRoom(ctx, roomSID(base+i)); err != nil {
			t.Fatal(err)
		}
		clock.add(200 * time.Millisecond)
	}
	for i := range peakParts {
		if err := vq.ReserveParticipant(ctx, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatal(err)
		}
		clock.add(200 * time.Millisecond)
	}
	clock.set(hourStart.Add(40 * time.Minute))
	for i := range peakRooms {
		if err := vq.ReleaseRoom(ctx, roomSID(base+i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range peakParts {
		if err := vq.ReleaseParticipant(ctx, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStatusPeaksOfADay(t *testing.T) {
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	clock := &handClock{t: day}
	store := memStore(t, memstore.WithClock(clockFunc(clock.now)))
	vq, err := video.New(testAccount, "token", video.WithStore(store), video.WithClock(clockFunc(clock.now)),
		video.WithBaseURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer vq.Close()
	ctx := context.Background()
	want := make([][2]int, 24)
	for h := range 24 {
		want[h] = [2]int{(h*37)%50 + 1, (h*53)%80 + 1}
		replayHour(t, ctx, vq, clock, day.Add(time.Duration(h)*time.Hour), want[h][0], want[h][1])
	}
	clock.set(day.Add(24*time.Hour + time.Minute))
	hs := httptest.NewServer(vq.StatusHandler())
	defer hs.Close()

	_, body := get(t, hs.URL+"?peaks=hour.json", "")
	var rows []video.PeakRow
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(rows) != 24 {
		t.Fatalf("%d hourly rows, want 24: %s", len(rows), body)
	}
	maxR, maxP := 0, 0
	for h, r := range rows {
		if !r.Start.Equal(day.Add(time.Duration(h)*time.Hour)) || r.Rooms != want[h][0] || r.Participants != want[h][1] {
			t.Errorf("hour %d: %+v, want rooms %d participants %d", h, r, want[h][0], want[h][1])
		}
		maxR, maxP = max(maxR, want[h][0]), max(maxP, want[h][1])
	}

	resp, body := get(t, hs.URL+"?peaks=day.csv", "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("day.csv Content-Type %q", ct)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantCSV := [][]string{{"day_start_utc", "peak_rooms", "peak_participants"}, {"2026-11-30T00:00:00Z", fmt.Sprint(maxR), fmt.Sprint(maxP)}}
	if fmt.Sprint(recs) != fmt.Sprint(wantCSV) {
		t.Errorf("day.csv:\n%v\nwant\n%v", recs, wantCSV)
	}
	// Reading the page observes the usage of the new day (0): its row reads 0.
	rep := statusJSON(t, hs.URL)
	if rep.Peaks.Rooms != maxR || rep.Peaks.Participants != maxP || len(rep.Peaks.Daily) == 0 ||
		rep.Peaks.Daily[0] != (video.PeakRow{Start: day, Rooms: maxR, Participants: maxP}) || rep.Peaks.PeriodHours != 31*24 {
		t.Errorf("report peaks %+v", rep.Peaks)
	}

	// Past the period, the hours are gone.
	clock.set(day.Add(40 * 24 * time.Hour))
	_, body = get(t, hs.URL+"?peaks=hour.json", "")
	if strings.TrimSpace(body) != "[]" {
		t.Errorf("after the period: %s, want []", body)
	}
}

// TestStatusPeaksSharedByProcesses: two Clients on one Redis, as two
// processes of one account, each report the account's peak, which neither
// reaches alone.
func TestStatusPeaksSharedByProcesses(t *testing.T) {
	rs := redistest.Start(t)
	prefix := redistest.Prefix(t)
	hour := time.Now().UTC().Truncate(time.Hour)
	clock := &handClock{t: hour.Add(5 * time.Minute)}
	var clients []*video.Client
	for range 2 {
		st, err := redisstore.New(rs.Client(t), redisstore.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		vq, err := video.New(testAccount, "token", video.WithStore(st), video.WithClock(clockFunc(clock.now)),
			video.WithBaseURL("http://127.0.0.1:1"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vq.Close() })
		clients = append(clients, vq)
	}
	a, b := clients[0], clients[1]
	ctx := context.Background()
	hold := func(vq *video.Client, from, to int) {
		for i := from; i < to; i++ {
			if err := vq.HoldRoom(ctx, roomSID(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	release := func(vq *video.Client, from, to int) {
		for i := from; i < to; i++ {
			if err := vq.ReleaseRoom(ctx, roomSID(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A holds 12 (account 12); B adds 20 (account 32: B's op reaches it);
	// A gives back 12 (account 20), adds 5 (25); B gives back 20 (5).
	hold(a, 0, 12)
	hold(b, 100, 120)
	release(a, 0, 12)
	hold(a, 200, 205)
	release(b, 100, 120)
	// B's participants reach 7 while A sees none.
	for i := range 7 {
		if err := b.HoldParticipant(ctx, roomSID(100), participantSID(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i, vq := range clients {
		hs := httptest.NewServer(vq.StatusHandler())
		_, body := get(t, hs.URL+"?peaks=hour.json", "")
		hs.Close()
		var rows []video.PeakRow
		if err := json.Unmarshal([]byte(body), &rows); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if len(rows) != 1 || !rows[0].Start.Equal(hour) || rows[0].Rooms != 32 || rows[0].Participants != 7 {
			t.Errorf("client %c: %s, want one hour with the account's peaks, 32 Rooms and 7 Participants", 'A'+i, body)
		}
	}
	// A process's own view would be lower: A never saw 32 (its operations
	// left the account at 12, 20..25).
	if rep := a.Status(); !rep.Peaks.Shared {
		t.Errorf("A's report does not come from the store: %+v", rep.Peaks)
	}
}

// TestStatusFullReason: after Twilio refuses a Room (the ledger allowed
// it: the account's real quota is lower), the status says Rooms are full
// and why.
func TestStatusFullReason(t *testing.T) {
	refusal := make(chan struct{}, 1)
	_, vq := setup(t, videotest.Options{ConcurrentRooms: 2}, video.WithLimits(quota.Limits{ConcurrentRooms: 5}),
		video.WithThresholds(func(e quota.Event) {
			if e.Code == quota.CodeRoomsExceeded {
				refusal <- struct{}{}
			}
		}))
	ctx := context.Background()
	for i := range 3 {
		_, err := vq.CreateRoom(ctx, room(fmt.Sprintf("r%d", i)))
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 && !errors.Is(err, quota.ErrExceeded) {
			t.Fatalf("third Room: %v, want Twilio's 53119", err)
		}
	}
	<-refusal // delivered to the status first, then to the application
	rep := vq.Status()
	rs := rep.Resources[0]
	if !rs.Full || !strings.Contains(rs.FullReason, "53119") {
		t.Errorf("rooms full %v, reason %q; want full, because of 53119", rs.Full, rs.FullReason)
	}
	if rep.TwilioRefusals != 1 {
		t.Errorf("twilioRefusals %d, want 1", rep.TwilioRefusals)
	}
	var refused bool
	for _, e := range rep.Events {
		refused = refused || (e.Kind == "refused" && e.Code == quota.CodeRoomsExceeded && e.Source == "twilio")
	}
	if !refused {
		t.Errorf("events %+v lack Twilio's refusal", rep.Events)
	}
}
