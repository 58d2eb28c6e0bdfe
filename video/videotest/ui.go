package videotest

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The inspector: a page at /_videotest/ui/ on the emulator's own port that
// shows what the emulator holds and saw (Rooms with their Participants and
// tracks, the request log, the callbacks sent, Monitor Alerts, the quota
// gauges, the faults and the clock), kept live by server-sent events, with
// POST forms to change the faults and the clock and to connect or
// disconnect a simulated Participant. It sits behind the control API's
// Basic auth; its forms also refuse cross-origin posts. Every asset is
// embedded, and the page loads nothing from elsewhere.

//go:embed ui
var uiFiles embed.FS

// uiAssets are the page's static files, served under /_videotest/ui/.
var uiAssets = func() fs.FS {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err)
	}
	return sub
}()

var uiTemplate = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"pct": func(used, limit float64) float64 {
		if limit <= 0 {
			return 0
		}
		return min(100, 100*used/limit)
	},
}).ParseFS(uiFiles, "ui/index.html"))

const (
	uiPath = controlPrefix + "ui/"
	// uiPageSize is how many Rooms one page of the inspector shows.
	uiPageSize = 50
	// uiPartsShown and uiTracksShown bound what one Room row renders.
	uiPartsShown  = 25
	uiTracksShown = 10
	// uiLogRows is how many request log and callback entries are shown.
	uiLogRows = 100
	// uiAlertRows is how many Monitor Alerts are shown.
	uiAlertRows = 50
	// uiTick is how often an event stream looks for a change to send.
	uiTick = 250 * time.Millisecond
	// uiHeartbeat keeps an idle event stream from being closed by proxies.
	uiHeartbeat = 15 * time.Second
	// uiQueryMax bounds the Room filter's length.
	uiQueryMax = 128
)

// uiCSP allows the page its own script, style and event stream only.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// serveUI answers /_videotest/ui and below; the caller has checked auth.
// rest is the path after "/_videotest/ui".
func (s *Server) serveUI(w http.ResponseWriter, r *http.Request, rest string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", uiCSP)
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch rest {
	case "":
		if !get {
			s.controlMethod(w, r, "GET")
			return
		}
		http.Redirect(w, r, uiPath, http.StatusMovedPermanently)
	case "/":
		if !get {
			s.controlMethod(w, r, "GET")
			return
		}
		s.uiPage(w, r)
	case "/events":
		if r.Method != http.MethodGet {
			s.controlMethod(w, r, "GET")
			return
		}
		s.uiEvents(w, r)
	case "/app.js", "/app.css":
		if !get {
			s.controlMethod(w, r, "GET")
			return
		}
		http.ServeFileFS(w, r, uiAssets, rest[1:])
	case "/faults", "/faults/clear", "/clock", "/connect", "/disconnect", "/complete":
		if r.Method != http.MethodPost {
			s.controlMethod(w, r, "POST")
			return
		}
		// The browser sends its cached Basic credentials with a post from
		// another origin too: refuse those.
		if err := http.NewCrossOriginProtection().Check(r); err != nil {
			ctlErr(w, errf(20003, "Cross-origin form post refused"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxControlBody)
		if err := r.ParseForm(); err != nil {
			ctlErr(w, errf(20001, "Malformed form: %v", err))
			return
		}
		msg, err := s.uiAction(rest[1:], r.PostForm)
		back := url.Values{}
		if err != nil {
			back.Set("err", uiErrText(err))
		} else {
			back.Set("ok", msg)
		}
		http.Redirect(w, r, uiPath+"?"+back.Encode(), http.StatusSeeOther)
	default:
		ctlErr(w, notFound(r))
	}
}

// uiErrText is err's message without the package prefix.
func uiErrText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%d: %s", e.Code, e.Message)
	}
	return strings.TrimPrefix(err.Error(), "videotest: ")
}

// uiAction applies one form and returns what to tell the user.
func (s *Server) uiAction(name string, form url.Values) (string, error) {
	switch name {
	case "faults":
		fj, err := uiFaultsForm(form)
		if err != nil {
			return "", err
		}
		s.setControlFaults(fj)
		return "Faults set", nil
	case "faults/clear":
		s.setControlFaults(faultsJSON{})
		return "Faults cleared", nil
	case "clock":
		fc, ok := s.clock.(*FakeClock)
		if !ok {
			return "", errors.New("the clock is real time: start the emulator with a fake clock (-fake-clock) to advance it")
		}
		sec, err := strconv.ParseFloat(strings.TrimSpace(form.Get("seconds")), 64)
		d := time.Duration(sec * float64(time.Second))
		if err != nil || sec < 0 || d > maxAdvance {
			return "", fmt.Errorf("seconds %q: want a number from 0 to %d", form.Get("seconds"), int(maxAdvance.Seconds()))
		}
		fc.Advance(d)
		return "Clock advanced " + d.String(), nil
	case "connect":
		psid, err := s.Connect(form.Get("room"), form.Get("identity"))
		if err != nil {
			return "", err
		}
		return "Connected " + form.Get("identity") + " as " + psid, nil
	case "disconnect":
		if err := s.Disconnect(form.Get("room"), form.Get("participant")); err != nil {
			return "", err
		}
		return "Disconnected " + form.Get("participant"), nil
	case "complete":
		if err := s.CompleteRoom(form.Get("room")); err != nil {
			return "", err
		}
		return "Completed " + form.Get("room"), nil
	}
	return "", fmt.Errorf("no form %s", name)
}

// uiFaultsForm reads the faults form: each field as the control API names
// it, an empty field zero.
func uiFaultsForm(form url.Values) (faultsJSON, error) {
	var fj faultsJSON
	ints := []struct {
		name string
		v    *int
	}{{"force_429", &fj.Force429}, {"latency_ms", &fj.LatencyMS}, {"callback_delay_ms", &fj.CallbackDelayMS}}
	for _, x := range ints {
		if v := strings.TrimSpace(form.Get(x.name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fj, fmt.Errorf("%s %q is not a whole number", x.name, v)
			}
			*x.v = n
		}
	}
	floats := []struct {
		name string
		v    *float64
	}{{"rate_429", &fj.Rate429}, {"rate_500", &fj.Rate500}, {"rate_503", &fj.Rate503}, {"drop_rate", &fj.DropRate},
		{"callback_drop_rate", &fj.CallbackDropRate}, {"callback_duplicate_rate", &fj.CallbackDuplicateRate},
		{"callback_delay_rate", &fj.CallbackDelayRate}, {"callback_reorder_rate", &fj.CallbackReorderRate}}
	for _, x := range floats {
		if v := strings.TrimSpace(form.Get(x.name)); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fj, fmt.Errorf("%s %q is not a number", x.name, v)
			}
			*x.v = f
		}
	}
	fj.MatchMethod = strings.ToUpper(strings.TrimSpace(form.Get("match_method")))
	fj.MatchPathPrefix = strings.TrimSpace(form.Get("match_path_prefix"))
	if err := fj.validate(); err != nil {
		return fj, errors.New(strings.TrimPrefix(err.Error(), "videotest: faults: "))
	}
	return fj, nil
}

// uiQuery is what the page's URL asks to see.
type uiQuery struct {
	Page int    // from 1
	All  bool   // ended Rooms too
	Q    string // substring of a Room's name or SID (case matters, as in Twilio's names)
}

func parseUIQuery(v url.Values) uiQuery {
	q := uiQuery{Page: 1, All: v.Get("show") == "all", Q: strings.TrimSpace(v.Get("q"))}
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 1 {
		q.Page = n
	}
	if len(q.Q) > uiQueryMax {
		q.Q = q.Q[:uiQueryMax]
	}
	return q
}

// href returns the page's query for page n.
func (q uiQuery) href(n int) string {
	v := url.Values{}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if q.All {
		v.Set("show", "all")
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if len(v) == 0 {
		return "?"
	}
	return "?" + v.Encode()
}

// uiView is everything one rendering of the page shows: copies, taken in
// one short hold of each lock, so rendering holds none.
type uiView struct {
	Query                     uiQuery
	Now                       string
	FakeClock                 bool
	Account                   string
	Gauges                    []uiGauge
	Stats                     statsJSON
	Rooms                     []uiRoom
	RoomsMatched              int
	Page, Pages               int
	PrevHref, NextHref        string
	Requests                  []uiRequest
	Callbacks                 []uiCallback
	Alerts                    []uiAlert
	AlertsTotal               int
	Faults                    faultsJSON
	Message, Error            string
	ShowAllHref, ShowLiveHref string
}

type uiGauge struct {
	Name        string
	Used, Limit float64
	Note        string
}

type uiRoom struct {
	Sid, Name, Status, Type, Created string
	Live                             int
	Parts                            []uiPart
	MoreParts                        int
}

type uiPart struct {
	Sid, Identity, Status string
	Tracks                []uiTrack
	MoreTracks            int
}

type uiTrack struct {
	Kind, Name string
	Enabled    bool
}

type uiRequest struct {
	Time, Method, Path, Class string
	Status, Code              int
	Throttled                 bool
	LatencyMS                 string
}

type uiCallback struct {
	Time, Event, URL, Method, Sid, Outcome string
	Attempt                                int
	OK, Dropped, Duplicate, Debugger       bool
	Signed                                 bool
}

type uiAlert struct {
	Sid, Code, Level, Text, Resource, Created string
}

// uiView builds the view for q; it holds Server.mu while it walks the
// Rooms (a pointer check each, and a copy of one page).
func (s *Server) uiView(q uiQuery) *uiView {
	now := s.clock.Now()
	_, fake := s.clock.(*FakeClock)
	v := &uiView{Query: q, Now: now.UTC().Format("2006-01-02 15:04:05 MST"), FakeClock: fake,
		Account: s.accountSID, Stats: statsOut(s.Stats()), Faults: s.faultsOut()}
	for _, g := range []struct {
		name        string
		used, limit int
		peak        int
	}{
		{"Rooms in progress", v.Stats.RoomsNow, s.opts.ConcurrentRooms, v.Stats.RoomsPeak},
		{"Participants connected", v.Stats.ParticipantsNow, s.opts.ConcurrentParticipants, v.Stats.ParticipantsPeak},
	} {
		note := fmt.Sprintf("peak %d", g.peak)
		if g.limit < 0 { // no quota: a count, no gauge
			note = fmt.Sprintf("%d now, peak %d, no quota", g.used, g.peak)
			g.limit = 0
		}
		v.Gauges = append(v.Gauges, uiGauge{Name: g.name, Used: float64(g.used), Limit: float64(g.limit), Note: note})
	}
	for _, b := range []struct {
		name string
		lim  interface {
			TokensAt(time.Time) float64
			Burst() int
		}
		off bool
	}{{"Read bucket (tokens left)", s.readLim, s.readLim == nil}, {"Write bucket (tokens left)", s.writeLim, s.writeLim == nil}} {
		if b.off {
			v.Gauges = append(v.Gauges, uiGauge{Name: b.name, Note: "no limit"})
			continue
		}
		v.Gauges = append(v.Gauges, uiGauge{Name: b.name, Used: max(0, b.lim.TokensAt(now)), Limit: float64(b.lim.Burst())})
	}
	if m := s.opts.MaxConcurrentRequests; m > 0 {
		v.Gauges = append(v.Gauges, uiGauge{Name: "Requests in flight", Used: float64(s.inflight.Load()), Limit: float64(m),
			Note: fmt.Sprintf("peak %d", v.Stats.InFlightPeak)})
	}

	s.mu.Lock()
	v.Rooms, v.RoomsMatched = s.uiRoomsLocked(q)
	if pages := max(1, (v.RoomsMatched+uiPageSize-1)/uiPageSize); q.Page > pages {
		// Past the end (Rooms ended since the link was made): the last page.
		q.Page = pages
		v.Rooms, _ = s.uiRoomsLocked(q)
	}
	alerts := s.alerts
	v.AlertsTotal = len(alerts)
	for i := len(alerts) - 1; i >= 0 && len(v.Alerts) < uiAlertRows; i-- {
		a := alerts[i]
		v.Alerts = append(v.Alerts, uiAlert{Sid: a.sid, Code: a.code, Level: a.level, Text: a.text, Resource: a.resource,
			Created: a.created.UTC().Format(time.DateTime)})
	}
	s.mu.Unlock()
	v.Pages = max(1, (v.RoomsMatched+uiPageSize-1)/uiPageSize)
	v.Page = min(q.Page, v.Pages)
	if v.Page > 1 {
		v.PrevHref = q.href(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.NextHref = q.href(v.Page + 1)
	}
	all, live := q, q
	all.All, live.All, all.Page, live.Page = true, false, 1, 1
	v.ShowAllHref, v.ShowLiveHref = all.href(1), live.href(1)

	reqs := s.reqLog.last(uiLogRows)
	for _, x := range slices.Backward(reqs) {
		v.Requests = append(v.Requests, uiRequest{Time: x.Time.UTC().Format("15:04:05.000"), Method: x.Method, Path: x.Path,
			Class: x.Class, Status: x.Status, Code: x.Code, Throttled: x.Throttled,
			LatencyMS: strconv.FormatFloat(float64(x.Latency)/float64(time.Millisecond), 'f', 2, 64)})
	}
	cbs := s.cbLog.last(uiLogRows)
	for _, x := range slices.Backward(cbs) {
		c := uiCallback{Time: x.Time.UTC().Format("15:04:05.000"), Event: x.Event, URL: uiRedactURL(x.URL), Method: x.Method,
			Sid: x.Sid, Attempt: x.Attempt, OK: x.Delivered, Dropped: x.Dropped, Duplicate: x.Duplicate,
			Debugger: x.Debugger, Signed: x.Signature != ""}
		switch {
		case x.Dropped:
			c.Outcome = "dropped"
		case x.Delivered:
			c.Outcome = "delivered " + strconv.Itoa(x.StatusCode)
		case x.StatusCode != 0:
			c.Outcome = "failed " + strconv.Itoa(x.StatusCode)
		default:
			c.Outcome = "failed: " + x.Error
		}
		v.Callbacks = append(v.Callbacks, c)
	}
	return v
}

// uiRoomsLocked returns page q.Page of the Rooms q selects, newest first,
// and how many it selects. Without a filter the count is known, so the walk
// stops at the end of the page: the first page costs 50 Rooms, not all of
// them. Requires Server.mu held.
func (s *Server) uiRoomsLocked(q uiQuery) (page []uiRoom, matched int) {
	first := (q.Page - 1) * uiPageSize
	needle := q.Q
	known := -1
	page = make([]uiRoom, 0, uiPageSize)
	switch {
	case needle != "":
	case q.All:
		known = len(s.roomOrder)
	default:
		known = s.roomsNow
	}
	for i := len(s.roomOrder) - 1; i >= 0; i-- {
		if known >= 0 && len(page) == uiPageSize {
			return page, known
		}
		rm := s.roomOrder[i]
		if !q.All && rm.status != "in-progress" {
			continue
		}
		if needle != "" && !strings.Contains(rm.name, needle) && !strings.Contains(rm.sid, needle) {
			continue
		}
		if matched >= first && len(page) < uiPageSize {
			page = append(page, uiRoomOf(rm))
		}
		matched++
	}
	return page, matched
}

// uiRoomOf copies rm for the page. Requires Server.mu held.
func uiRoomOf(rm *room) uiRoom {
	out := uiRoom{Sid: rm.sid, Name: rm.name, Status: rm.status, Type: rm.typ, Created: rm.created.UTC().Format(time.DateTime)}
	for _, p := range rm.parts {
		if !p.live() {
			continue
		}
		out.Live++
		if len(out.Parts) == uiPartsShown {
			out.MoreParts++
			continue
		}
		up := uiPart{Sid: p.sid, Identity: p.identity, Status: p.status}
		for i, t := range p.published {
			if i == uiTracksShown {
				up.MoreTracks = len(p.published) - i
				break
			}
			up.Tracks = append(up.Tracks, uiTrack{Kind: t.kind, Name: t.name, Enabled: t.enabled})
		}
		out.Parts = append(out.Parts, up)
	}
	return out
}

// uiRedactURL hides the password of a callback URL's user information:
// Twilio callback URLs may carry Basic credentials for the receiver.
func uiRedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// uiRender renders the named template of the page for v.
func uiRender(name string, v *uiView) ([]byte, error) {
	var b bytes.Buffer
	if err := uiTemplate.ExecuteTemplate(&b, name, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (s *Server) uiPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := s.uiView(parseUIQuery(q))
	v.Message, v.Error = q.Get("ok"), q.Get("err")
	b, err := uiRender("index.html", v)
	if err != nil {
		ctlErr(w, errf(20500, "rendering the inspector: %v", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// uiEvents streams the live part of the page as server-sent events: an
// event "live" whose data is the part's HTML (a JSON string) each time it
// changes, looked for every uiTick. It ends when the client goes away or
// the server closes.
func (s *Server) uiEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	q := parseUIQuery(r.URL.Query())
	tick := time.NewTicker(uiTick)
	defer tick.Stop()
	var last []byte
	quiet := time.Now()
	for {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return
		}
		b, err := uiRender("live", s.uiView(q))
		if err != nil {
			return
		}
		var out []byte
		switch {
		case !bytes.Equal(b, last):
			data, _ := json.Marshal(string(b))
			out = fmt.Appendf(nil, "event: live\ndata: %s\n\n", data)
			last = b
		case time.Since(quiet) >= uiHeartbeat:
			out = []byte(": ping\n\n")
		}
		if out != nil {
			if _, err := w.Write(out); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			quiet = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}
