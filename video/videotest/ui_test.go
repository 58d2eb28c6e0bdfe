package videotest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// inspector is an HTTP client for the inspector's pages, with the control
// API's Basic auth, that does not follow redirects.
type inspector struct {
	t    *testing.T
	srv  *videotest.Server
	hc   *http.Client
	user string
	pass string
}

func newInspector(t *testing.T, srv *videotest.Server) *inspector {
	return &inspector{t: t, srv: srv, user: srv.AccountSID(), pass: srv.AuthToken(),
		hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends the request and returns the response with its body read.
func (in *inspector) do(req *http.Request) (*http.Response, string) {
	in.t.Helper()
	if in.user != "" {
		req.SetBasicAuth(in.user, in.pass)
	}
	resp, err := in.hc.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	return resp, string(b)
}

func (in *inspector) get(path string) (*http.Response, string) {
	in.t.Helper()
	req, _ := http.NewRequest("GET", in.srv.URL()+path, nil)
	return in.do(req)
}

// post sends a form as the page's own forms do (same origin).
func (in *inspector) post(path string, form url.Values) (*http.Response, string) {
	in.t.Helper()
	req, _ := http.NewRequest("POST", in.srv.URL()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", in.srv.URL())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, body := in.do(req)
	if resp.StatusCode == http.StatusSeeOther {
		fields := map[string]any{}
		for k := range form {
			fields[k] = form.Get(k)
		}
		checkRequest(in.t, "POST", path, "application/x-www-form-urlencoded", fields)
	}
	return resp, body
}

var roomRow = regexp.MustCompile(`<tr class="room" data-sid="(RM[0-9a-f]{32})">`)

func TestInspectorNeedsTheControlAPIAuth(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	for _, tc := range []struct{ user, pass string }{{"", ""}, {srv.AccountSID(), "wrong"}} {
		in := newInspector(t, srv)
		in.user, in.pass = tc.user, tc.pass
		for _, p := range []string{"/_videotest/ui/", "/_videotest/ui/events", "/_videotest/ui/app.js"} {
			resp, body := in.get(p)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s as %q = %d (WWW-Authenticate %q), want 401 asking for Basic auth", p, tc.user, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, srv.AuthToken()) {
				t.Errorf("GET %s: the refusal shows the auth token", p)
			}
		}
		resp, _ := in.post("/_videotest/ui/connect", url.Values{"room": {"r"}, "identity": {"a"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST connect as %q = %d, want 401", tc.user, resp.StatusCode)
		}
	}
	if st := srv.Stats(); st.ParticipantsJoined != 0 {
		t.Fatalf("an unauthenticated form connected a participant: %+v", st)
	}
}

func TestInspectorPageIsSelfContained(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{})
	in := newInspector(t, srv)
	resp, page := in.get("/_videotest/ui/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET ui/ = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not forbid other origins", csp)
	}
	for _, want := range []string{"No Rooms in progress", "No requests yet", "No callbacks sent yet", "No alerts", "No faults"} {
		if !strings.Contains(page, want) {
			t.Errorf("empty emulator: page lacks %q", want)
		}
	}
	if strings.Contains(page, srv.AuthToken()) {
		t.Error("the page shows the auth token")
	}
	all := page
	for _, asset := range []string{"app.js", "app.css"} {
		resp, body := in.get("/_videotest/ui/" + asset)
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("GET %s = %d, %d bytes", asset, resp.StatusCode, len(body))
		}
		all += body
	}
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(all); m != "" {
		t.Errorf("the page or its assets refer to %q: everything must be served by the emulator", m)
	}
	if resp, _ := in.get("/_videotest/ui"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/_videotest/ui/" {
		t.Errorf("GET ui = %d to %q, want a redirect to ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestInspectorWithoutQuotas(t *testing.T) {
	srv, _, _, _ := newTest(t, videotest.Options{ConcurrentRooms: -1, ConcurrentParticipants: -1, AdHocRooms: true})
	if _, err := srv.Connect("r", "a"); err != nil {
		t.Fatal(err)
	}
	resp, page := newInspector(t, srv).get("/_videotest/ui/")
	if resp.StatusCode != 200 || strings.Contains(page, `max="-1"`) || !strings.Contains(page, "1 now, peak 1, no quota") {
		t.Errorf("no quotas: status %d, the page does not show plain counts", resp.StatusCode)
	}
}

func TestInspectorEscapesMarkup(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	name := `<script>alert(1)</script><b id="x" onclick='y'>&amp;`
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName(name))
	if err != nil {
		t.Fatal(err)
	}
	identity := `"><img src=x onerror=alert(2)>`
	if _, err := srv.Connect(*room.Sid, identity); err != nil {
		t.Fatal(err)
	}
	_, page := newInspector(t, srv).get("/_videotest/ui/")
	for _, raw := range []string{"<script>alert(1)", `<b id="x"`, "<img src=x"} {
		if strings.Contains(page, raw) {
			t.Errorf("page contains raw markup %q", raw)
		}
	}
	for _, s := range []string{name, identity} {
		if !strings.Contains(page, html.EscapeString(s)) && !strings.Contains(page, templateEscaped(s)) {
			t.Errorf("page does not show %q escaped", s)
		}
	}
}

// templateEscaped is s as html/template escapes text, which also escapes +.
func templateEscaped(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;")
	return r.Replace(s)
}

func TestInspectorPagesTenThousandRooms(t *testing.T) {
	const n = 10000
	srv, _, _, _ := newTest(t, videotest.Options{AdHocRooms: true, ConcurrentRooms: n + 1, ConcurrentParticipants: n + 1})
	for i := range n {
		if _, err := srv.Connect("room-"+itoa(i), "p"); err != nil {
			t.Fatal(err)
		}
	}
	in := newInspector(t, srv)
	_, page := in.get("/_videotest/ui/")
	rows := roomRow.FindAllStringSubmatch(page, -1)
	if len(rows) != 50 {
		t.Fatalf("first page shows %d Rooms, want 50", len(rows))
	}
	if !strings.Contains(page, "10000 in progress") || !strings.Contains(page, "page 1 of 200") {
		t.Error("the page does not say 10000 Rooms on 200 pages")
	}
	if !strings.Contains(page, ">room-9999<") || strings.Contains(page, ">room-9949<") {
		t.Error("the first page is not the 50 newest Rooms")
	}
	if len(page) > 200<<10 {
		t.Errorf("first page is %d KiB", len(page)>>10)
	}
	_, last := in.get("/_videotest/ui/?page=200")
	if got := len(roomRow.FindAllString(last, -1)); got != 50 || !strings.Contains(last, ">room-0<") {
		t.Errorf("last page: %d Rooms, room-0 there: %v", got, strings.Contains(last, ">room-0<"))
	}
	// A page past the end shows the last one; a filter narrows the list.
	if _, past := in.get("/_videotest/ui/?page=999"); !strings.Contains(past, "page 200 of 200") {
		t.Error("page 999 is not shown as the last page")
	}
	_, one := in.get("/_videotest/ui/?q=room-4242")
	if got := len(roomRow.FindAllString(one, -1)); got != 1 || !strings.Contains(one, ">room-4242<") {
		t.Errorf("filter room-4242: %d Rooms", got)
	}
}

func TestInspectorGETChangesNothing(t *testing.T) {
	srv, video, _, fc := newTest(t, videotest.Options{})
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("r")); err != nil {
		t.Fatal(err)
	}
	in := newInspector(t, srv)
	before := fc.Now()
	for _, p := range []string{
		"/_videotest/ui/connect?room=r&identity=a",
		"/_videotest/ui/faults?force_429=3",
		"/_videotest/ui/clock?seconds=60",
		"/_videotest/ui/complete?room=r",
		"/_videotest/ui/faults/clear",
	} {
		resp, _ := in.get(p)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET %s = %d (Allow %q), want 405 Allow: POST", p, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if st := srv.Stats(); st.ParticipantsJoined != 0 || st.RoomsNow != 1 || srv.Faults().Force429 != 0 || !fc.Now().Equal(before) {
		t.Fatalf("a GET changed the emulator: %+v, faults %+v, clock %v", st, srv.Faults(), fc.Now())
	}
}

func TestInspectorForms(t *testing.T) {
	srv, video, _, fc := newTest(t, videotest.Options{})
	room, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("forms"))
	if err != nil {
		t.Fatal(err)
	}
	in := newInspector(t, srv)
	redirect := func(resp *http.Response) url.Values {
		t.Helper()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("form answer %d, want 303", resp.StatusCode)
		}
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || u.Path != "/_videotest/ui/" {
			t.Fatalf("form redirects to %q", resp.Header.Get("Location"))
		}
		return u.Query()
	}

	q := redirect(first(in.post("/_videotest/ui/connect", url.Values{"room": {"forms"}, "identity": {"alice"}})))
	if q.Get("err") != "" || !strings.Contains(q.Get("ok"), "alice") {
		t.Fatalf("connect: %v", q)
	}
	parts, err := video.ListRoomParticipant(*room.Sid, nil)
	if err != nil || len(parts) != 1 || *parts[0].Identity != "alice" {
		t.Fatalf("after connect, participants %v (%v)", parts, err)
	}
	if q := redirect(first(in.post("/_videotest/ui/connect", url.Values{"room": {"nope"}, "identity": {"bob"}}))); !strings.Contains(q.Get("err"), "53") {
		t.Errorf("connect to an unknown room: %v, want a Twilio error", q)
	}

	q = redirect(first(in.post("/_videotest/ui/faults", url.Values{"force_429": {"2"}, "rate_500": {""}, "match_method": {"get"}})))
	if f := srv.Faults(); q.Get("err") != "" || f.Force429 != 2 || f.Rate500 != 0 {
		t.Fatalf("faults form: %v, faults %+v", q, f)
	}
	if q := redirect(first(in.post("/_videotest/ui/faults", url.Values{"rate_500": {"2"}}))); !strings.Contains(q.Get("err"), "rate_500") {
		t.Errorf("rate_500=2: %v, want an error naming rate_500", q)
	}
	if srv.Faults().Force429 != 2 {
		t.Error("a refused faults form changed the faults")
	}
	redirect(first(in.post("/_videotest/ui/faults/clear", nil)))
	if srv.Faults().Force429 != 0 {
		t.Error("clear left the faults")
	}

	before := fc.Now()
	redirect(first(in.post("/_videotest/ui/clock", url.Values{"seconds": {"90"}})))
	if got := fc.Now().Sub(before); got != 90*time.Second {
		t.Errorf("clock form advanced %v, want 90s", got)
	}
	if q := redirect(first(in.post("/_videotest/ui/clock", url.Values{"seconds": {"-1"}}))); q.Get("err") == "" {
		t.Error("a negative advance was taken")
	}

	redirect(first(in.post("/_videotest/ui/disconnect", url.Values{"room": {"forms"}, "participant": {"alice"}})))
	redirect(first(in.post("/_videotest/ui/complete", url.Values{"room": {"forms"}})))
	if r, err := video.FetchRoom(*room.Sid); err != nil || *r.Status != "completed" {
		t.Fatalf("complete form: room %v (%v)", r, err)
	}

	// A post from another origin carries the browser's cached credentials
	// too: refused, nothing changed.
	req, _ := http.NewRequest("POST", srv.URL()+"/_videotest/ui/faults", strings.NewReader("force_429=5"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := in.do(req); resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin post = %d, want refused", resp.StatusCode)
	}
	if srv.Faults().Force429 != 0 {
		t.Error("a cross-origin post set faults")
	}
}

func first(resp *http.Response, _ string) *http.Response { return resp }

func TestInspectorShowsLogsAndRedactsCallbackCredentials(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	hook := srv.URL() + "/_videotest/sink/x"
	withCreds := strings.Replace(hook, "http://", "http://user:hunter2secret@", 1)
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("a").SetStatusCallback(withCreds)); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(videotest.Faults{Force429: 1})
	if _, err := video.FetchRoom("a"); err == nil {
		t.Fatal("forced 429 not sent")
	}
	srv.SetFaults(videotest.Faults{CallbackDropRate: 1})
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("b").SetStatusCallback(hook)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.FlushCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	_, page := newInspector(t, srv).get("/_videotest/ui/")
	if strings.Contains(page, "hunter2secret") {
		t.Error("the page shows a callback URL's password")
	}
	for _, want := range []string{`class="throttled"`, "room-created", "dropped", "not sent", "user:xxxxx@"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestInspectorEventsStreamChanges(t *testing.T) {
	srv, video, _, _ := newTest(t, videotest.Options{})
	req, _ := http.NewRequest("GET", srv.URL()+"/_videotest/ui/events", nil)
	req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	next := func() string {
		t.Helper()
		var event, data string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && event != "":
				var html string
				if err := json.Unmarshal([]byte(data), &html); err != nil {
					t.Fatalf("data %q is not a JSON string: %v", data, err)
				}
				return html
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}
	if got := next(); !strings.Contains(got, "No Rooms in progress") {
		t.Fatalf("first event lacks the empty state: %.200s", got)
	}
	if _, err := video.CreateRoom((&openapi.CreateRoomParams{}).SetUniqueName("streamed")); err != nil {
		t.Fatal(err)
	}
	for {
		if got := next(); strings.Contains(got, ">streamed<") {
			break
		}
	}
	// Close ends the stream: the server does not wait on it.
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close waited on an open event stream")
	}
}

// BenchmarkInspectorPage10000Rooms measures one rendering of the page over
// 10,000 in-progress Rooms (what each event stream does every tick while
// something changes).
func BenchmarkInspectorPage10000Rooms(b *testing.B) {
	const n = 10000
	srv := videotest.NewServer(videotest.Options{AdHocRooms: true, ConcurrentRooms: n + 1, ConcurrentParticipants: n + 1,
		ReadsPerSecond: -1, WritesPerSecond: -1})
	b.Cleanup(srv.Close)
	for i := range n {
		if _, err := srv.Connect("room-"+itoa(i), "p"); err != nil {
			b.Fatal(err)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL()+"/_videotest/ui/", nil)
	req.SetBasicAuth(srv.AccountSID(), srv.AuthToken())
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
