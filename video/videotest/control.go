package videotest

import (
	"bytes"
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// controlPrefix is the root of the control API, beside the Twilio surface.
const controlPrefix = "/_videotest/"

//go:embed control.openapi.json
var controlOpenAPI []byte

// ControlOpenAPI returns the OpenAPI 3 description of the control API (JSON),
// also served at GET /_videotest/openapi.json. The slice is a copy.
func ControlOpenAPI() []byte { return bytes.Clone(controlOpenAPI) }

// maxControlBody bounds a control API request body (64 KiB).
const maxControlBody = 64 << 10

// serveControl answers the control API: a JSON adapter over the Server's Go
// methods, so programs in any language can do what Go tests do in process.
// Every path but health and openapi.json needs the API's Basic auth.
// Requests are not charged to the rate buckets, faulted or logged.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, controlPrefix)
	switch p {
	case "health":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.controlMethod(w, r, "GET")
			return
		}
		ctlJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "openapi.json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(controlOpenAPI)
		return
	}
	if strings.HasPrefix(p, "sink/") || p == "sink" {
		s.serveSink(w, r)
		return
	}
	if msg := s.authFailure(r); msg != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="videotest control"`)
		ctlErr(w, newErr(20003, msg))
		return
	}
	if p == "ui" || strings.HasPrefix(p, "ui/") {
		s.serveUI(w, r, p[2:])
		return
	}
	seg := strings.Split(p, "/")
	for _, x := range seg {
		if x == "" {
			ctlErr(w, notFound(r))
			return
		}
	}
	c := controlReq{s: s, w: w, r: r}
	switch {
	case len(seg) == 1 && seg[0] == "stats":
		c.on("GET", func() { ctlJSON(w, http.StatusOK, statsOut(s.Stats())) })
	case len(seg) == 1 && seg[0] == "requests":
		c.on("GET", func() {
			if n, ok := c.limit(); ok {
				ctlJSON(w, http.StatusOK, map[string]any{"requests": orNone(s.Requests(n))})
			}
		})
	case len(seg) == 1 && seg[0] == "callbacks":
		c.on("GET", func() {
			if n, ok := c.limit(); ok {
				ctlJSON(w, http.StatusOK, map[string]any{"callbacks": orNone(s.Callbacks(n))})
			}
		})
	case len(seg) == 2 && seg[0] == "callbacks" && seg[1] == "flush":
		c.on("POST", c.flush)
	case len(seg) == 1 && seg[0] == "reset":
		c.on("POST", func() { s.Reset(); s.writeNoContentRaw(w) })
	case len(seg) == 1 && seg[0] == "faults":
		c.on("GET", func() { ctlJSON(w, http.StatusOK, s.faultsOut()) })
		c.on("PUT", c.setFaults)
		c.on("DELETE", func() { s.setControlFaults(faultsJSON{}); s.writeNoContentRaw(w) })
	case len(seg) == 1 && seg[0] == "clock":
		c.on("GET", func() { ctlJSON(w, http.StatusOK, s.clockOut()) })
	case len(seg) == 2 && seg[0] == "clock" && seg[1] == "advance":
		c.on("POST", c.advance)
	case len(seg) == 3 && seg[0] == "rooms" && seg[2] == "complete":
		c.on("POST", func() { c.complete(seg[1]) })
	case seg[0] == "accounts":
		c.accounts(seg[1:])
	case len(seg) >= 3 && seg[0] == "rooms" && seg[2] == "participants":
		c.participants(seg[1], seg[3:])
	}
	c.finish()
}

// serveSink is a status callback receiver for scripts that have none (curl):
// point a StatusCallback at <emulator>/_videotest/sink/<anything>. It
// verifies X-Twilio-Signature as a Twilio webhook receiver must, answering
// 204 when it is valid and 401 (code 20003) otherwise, so GET
// /_videotest/callbacks shows each delivery signed (delivered) or not. It
// takes no Basic auth: Twilio sends none with callbacks.
func (s *Server) serveSink(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.controlMethod(w, r, "GET", "POST")
		return
	}
	u := "http://" + r.Host + r.URL.RequestURI()
	var params map[string][]string
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxControlBody)
		if err := r.ParseForm(); err != nil {
			ctlErr(w, errf(20001, "Malformed callback body: %v", err))
			return
		}
		params = r.PostForm
	}
	want := Signature(s.authToken, u, params)
	if got := r.Header.Get("X-Twilio-Signature"); subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		ctlErr(w, errf(20003, "Invalid X-Twilio-Signature"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// controlReq collects the handlers of one control path by method.
type controlReq struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	allowed []string
	done    bool
}

// on runs f if the request's method is m, and records m as allowed.
func (c *controlReq) on(m string, f func()) {
	c.allowed = append(c.allowed, m)
	if !c.done && c.r.Method == m {
		c.done = true
		f()
	}
}

// finish answers 404 for an unknown path or 405 for a known one.
func (c *controlReq) finish() {
	switch {
	case c.done:
	case len(c.allowed) == 0:
		ctlErr(c.w, notFound(c.r))
	default:
		c.s.controlMethod(c.w, c.r, c.allowed...)
	}
}

func (s *Server) controlMethod(w http.ResponseWriter, r *http.Request, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	ctlErr(w, errf(20004, "Method %s not allowed on %s", r.Method, r.URL.Path))
}

func (s *Server) writeNoContentRaw(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// ctlJSON and ctlErr write control API responses; unlike writeJSON and
// writeErr they leave the request statistics alone.
func ctlJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		ctlErr(w, errf(20500, "encoding response: %v", err))
		return
	}
	ctlRaw(w, status, b)
}

func ctlErr(w http.ResponseWriter, e *Error) { ctlRaw(w, e.Status(), e.body()) }

func ctlRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode reads the JSON body into v, rejecting unknown fields, trailing
// data and bodies over 64 KiB with 20001. An empty body leaves v as is.
func (c *controlReq) decode(v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxControlBody))
	if err != nil {
		ctlErr(c.w, errf(20001, "Invalid JSON body: %v", err))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		ctlErr(c.w, errf(20001, "Invalid JSON body: %v", err))
		return false
	}
	if dec.More() {
		ctlErr(c.w, errf(20001, "Invalid JSON body: more than one JSON value"))
		return false
	}
	return true
}

// limit reads the optional ?limit= (1..10000).
func (c *controlReq) limit() (int, bool) {
	v := c.r.URL.Query().Get("limit")
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		ctlErr(c.w, errf(20001, "Invalid limit %q: must be an integer from 1 to 10000", v))
		return 0, false
	}
	return n, true
}

// fail writes err: an *Error as such, anything else as 20500.
func (c *controlReq) fail(err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errf(20500, "%v", err)
	}
	ctlErr(c.w, e)
}

func orNone[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// participantJSON is a participant as the control API shows it.
type participantJSON struct {
	Sid      string `json:"sid"`
	Identity string `json:"identity"`
	Status   string `json:"status"`
	RoomSid  string `json:"room_sid"`
	RoomName string `json:"room_name"`
}

// trackJSON is a published track as the control API shows it.
type trackJSON struct {
	Sid            string `json:"sid"`
	Kind           string `json:"kind"`
	Name           string `json:"name"`
	Enabled        bool   `json:"enabled"`
	ParticipantSid string `json:"participant_sid"`
}

// writeParticipant answers with the participant psid of room roomSid, or
// 53106 if a concurrent reset discarded it.
func (c *controlReq) writeParticipant(status int, roomSid, psid string) {
	s := c.s
	s.mu.Lock()
	var out *participantJSON
	if rm := s.rooms[roomSid]; rm != nil {
		if p := rm.partBySID[psid]; p != nil {
			out = &participantJSON{Sid: p.sid, Identity: p.identity, Status: p.status, RoomSid: rm.sid, RoomName: rm.name}
		}
	}
	s.mu.Unlock()
	if out == nil {
		c.fail(newErr(53106, ""))
		return
	}
	ctlJSON(c.w, status, out)
}

// resolveLive returns the SIDs of a room and one of its live participants.
func (s *Server) resolveLive(roomRef, partRef string) (roomSid, psid string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm, p, err := s.connectedLocked(roomRef, partRef)
	if err != nil {
		return "", "", err
	}
	return rm.sid, p.sid, nil
}

// participants serves /_videotest/rooms/{room}/participants[/{p}[/...]].
func (c *controlReq) participants(roomRef string, rest []string) {
	s := c.s
	switch len(rest) {
	case 0:
		c.on("POST", func() { c.connect(roomRef) })
		return
	case 1:
		c.on("DELETE", func() {
			roomSid, psid, err := s.resolveLive(roomRef, rest[0])
			if err == nil {
				err = s.Disconnect(roomSid, psid)
			}
			if err != nil {
				c.fail(err)
				return
			}
			c.writeParticipant(http.StatusOK, roomSid, psid)
		})
		return
	}
	partRef := rest[0]
	switch {
	case len(rest) == 2 && (rest[1] == "reconnecting" || rest[1] == "reconnected"):
		c.on("POST", func() {
			roomSid, psid, err := s.resolveLive(roomRef, partRef)
			if err == nil {
				err = s.setReconnecting(roomSid, psid, rest[1] == "reconnecting")
			}
			if err != nil {
				c.fail(err)
				return
			}
			c.writeParticipant(http.StatusOK, roomSid, psid)
		})
	case len(rest) == 2 && rest[1] == "tracks":
		c.on("POST", func() { c.publish(roomRef, partRef) })
	case len(rest) == 3 && rest[1] == "tracks":
		c.on("POST", func() { c.enableTrack(roomRef, partRef, rest[2]) })
		c.on("DELETE", func() {
			if err := s.UnpublishTrack(roomRef, partRef, rest[2]); err != nil {
				c.fail(err)
				return
			}
			s.writeNoContentRaw(c.w)
		})
	}
}

func (c *controlReq) connect(roomRef string) {
	var in struct {
		Identity    string `json:"identity"`
		AccessToken string `json:"access_token"`
	}
	if !c.decode(&in) {
		return
	}
	var psid string
	var err error
	switch {
	case in.Identity != "" && in.AccessToken != "":
		err = errf(20001, "Give identity or access_token, not both")
	case in.AccessToken != "":
		psid, err = c.s.ConnectWithToken(in.AccessToken, roomRef)
	default:
		psid, err = c.s.Connect(roomRef, in.Identity)
	}
	if err != nil {
		c.fail(err)
		return
	}
	c.s.mu.Lock()
	var roomSid string
	for _, rm := range c.s.rooms { // the room may be ad hoc, just created
		if rm.partBySID[psid] != nil {
			roomSid = rm.sid
			break
		}
	}
	c.s.mu.Unlock()
	c.writeParticipant(http.StatusCreated, roomSid, psid)
}

func (c *controlReq) publish(roomRef, partRef string) {
	var in struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	}
	if !c.decode(&in) {
		return
	}
	sid, err := c.s.PublishTrack(roomRef, partRef, in.Kind, in.Name)
	if err != nil {
		c.fail(err)
		return
	}
	c.writeTrack(roomRef, partRef, sid, http.StatusCreated)
}

func (c *controlReq) enableTrack(roomRef, partRef, trackSid string) {
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Enabled == nil {
		ctlErr(c.w, errf(20001, "Missing required field enabled"))
		return
	}
	if err := c.s.SetTrackEnabled(roomRef, partRef, trackSid, *in.Enabled); err != nil {
		c.fail(err)
		return
	}
	c.writeTrack(roomRef, partRef, trackSid, http.StatusOK)
}

func (c *controlReq) writeTrack(roomRef, partRef, trackSid string, status int) {
	s := c.s
	s.mu.Lock()
	_, p, i, err := s.findTrackLocked(roomRef, partRef, trackSid)
	var out trackJSON
	if err == nil {
		t := p.published[i]
		out = trackJSON{Sid: t.sid, Kind: t.kind, Name: t.name, Enabled: t.enabled, ParticipantSid: p.sid}
	}
	s.mu.Unlock()
	if err != nil {
		c.fail(err)
		return
	}
	ctlJSON(c.w, status, out)
}

func (c *controlReq) complete(roomRef string) {
	s := c.s
	s.mu.Lock()
	rm := s.findRoomLocked(roomRef)
	s.mu.Unlock()
	if rm == nil {
		c.fail(newErr(53106, ""))
		return
	}
	if err := s.CompleteRoom(rm.sid); err != nil {
		c.fail(err)
		return
	}
	s.mu.Lock()
	out := map[string]any{"sid": rm.sid, "unique_name": rm.name, "status": rm.status}
	s.mu.Unlock()
	ctlJSON(c.w, http.StatusOK, out)
}

// clockJSON is the control API's view of the clock.
type clockJSON struct {
	Now  string `json:"now"`
	Fake bool   `json:"fake"`
}

func (s *Server) clockOut() clockJSON {
	_, fake := s.clock.(*FakeClock)
	return clockJSON{Now: s.clock.Now().UTC().Format(time.RFC3339Nano), Fake: fake}
}

// maxAdvance bounds one clock advance (31 days).
const maxAdvance = 31 * 24 * time.Hour

func (c *controlReq) advance() {
	var in struct {
		Seconds *float64 `json:"seconds"`
	}
	if !c.decode(&in) {
		return
	}
	fc, ok := c.s.clock.(*FakeClock)
	switch {
	case !ok:
		ctlErr(c.w, errf(20001, "The clock is real time: start the emulator with a fake clock (-fake-clock) to advance it"))
		return
	case in.Seconds == nil:
		ctlErr(c.w, errf(20001, "Missing required field seconds"))
		return
	case *in.Seconds < 0 || time.Duration(*in.Seconds*float64(time.Second)) > maxAdvance:
		ctlErr(c.w, errf(20001, "Invalid seconds %v: must be from 0 to %d", *in.Seconds, int(maxAdvance.Seconds())))
		return
	}
	fc.Advance(time.Duration(*in.Seconds * float64(time.Second)))
	ctlJSON(c.w, http.StatusOK, c.s.clockOut())
}

func (c *controlReq) flush() {
	var in struct {
		TimeoutSeconds *float64 `json:"timeout_seconds"`
	}
	if !c.decode(&in) {
		return
	}
	d := 10 * time.Second
	if in.TimeoutSeconds != nil {
		if *in.TimeoutSeconds <= 0 || *in.TimeoutSeconds > 60 {
			ctlErr(c.w, errf(20001, "Invalid timeout_seconds %v: must be over 0 and at most 60", *in.TimeoutSeconds))
			return
		}
		d = time.Duration(*in.TimeoutSeconds * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), d)
	defer cancel()
	err := c.s.FlushCallbacks(ctx)
	ctlJSON(c.w, http.StatusOK, map[string]any{"pending": c.s.disp.pending.Load(), "flushed": err == nil})
}

// faultsJSON is [Faults] as the control API reads and writes it: rates are
// probabilities in [0, 1], durations milliseconds, and Match is replaced by
// an optional method and path prefix.
type faultsJSON struct {
	Force429              int     `json:"force_429"`
	Rate429               float64 `json:"rate_429"`
	Rate500               float64 `json:"rate_500"`
	Rate503               float64 `json:"rate_503"`
	DropRate              float64 `json:"drop_rate"`
	LatencyMS             int     `json:"latency_ms"`
	MatchMethod           string  `json:"match_method"`
	MatchPathPrefix       string  `json:"match_path_prefix"`
	CallbackDropRate      float64 `json:"callback_drop_rate"`
	CallbackDuplicateRate float64 `json:"callback_duplicate_rate"`
	CallbackDelayRate     float64 `json:"callback_delay_rate"`
	CallbackDelayMS       int     `json:"callback_delay_ms"`
	CallbackReorderRate   float64 `json:"callback_reorder_rate"`
}

// ParseFaults decodes the control API's JSON faults object (the body of PUT
// /_videotest/faults, and the videotest command's -faults flag) into
// [Faults]. Unknown fields, probabilities outside [0, 1] and negative counts
// or durations are errors naming the field.
func ParseFaults(b []byte) (Faults, error) {
	var fj faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return Faults{}, fmt.Errorf("videotest: faults: %w", err)
	}
	if err := fj.validate(); err != nil {
		return Faults{}, err
	}
	return fj.faults(), nil
}

func (fj faultsJSON) validate() error {
	for _, x := range []struct {
		name string
		v    float64
	}{{"rate_429", fj.Rate429}, {"rate_500", fj.Rate500}, {"rate_503", fj.Rate503}, {"drop_rate", fj.DropRate},
		{"callback_drop_rate", fj.CallbackDropRate}, {"callback_duplicate_rate", fj.CallbackDuplicateRate},
		{"callback_delay_rate", fj.CallbackDelayRate}, {"callback_reorder_rate", fj.CallbackReorderRate}} {
		if x.v < 0 || x.v > 1 {
			return fmt.Errorf("videotest: faults: %s %v must be a probability from 0 to 1", x.name, x.v)
		}
	}
	for _, x := range []struct {
		name string
		v    int
	}{{"force_429", fj.Force429}, {"latency_ms", fj.LatencyMS}, {"callback_delay_ms", fj.CallbackDelayMS}} {
		if x.v < 0 {
			return fmt.Errorf("videotest: faults: %s %d must not be negative", x.name, x.v)
		}
	}
	return nil
}

func (fj faultsJSON) faults() Faults {
	f := Faults{Force429: fj.Force429, Rate429: fj.Rate429, Rate500: fj.Rate500, Rate503: fj.Rate503,
		DropRate: fj.DropRate, Latency: time.Duration(fj.LatencyMS) * time.Millisecond,
		CallbackDropRate: fj.CallbackDropRate, CallbackDuplicateRate: fj.CallbackDuplicateRate,
		CallbackDelayRate: fj.CallbackDelayRate, CallbackDelay: time.Duration(fj.CallbackDelayMS) * time.Millisecond,
		CallbackReorderRate: fj.CallbackReorderRate}
	if m, pfx := strings.ToUpper(fj.MatchMethod), fj.MatchPathPrefix; m != "" || pfx != "" {
		f.Match = func(method, path string) bool {
			return (m == "" || method == m) && strings.HasPrefix(path, pfx)
		}
	}
	return f
}

// setControlFaults installs fj and remembers its match fields for GET.
func (s *Server) setControlFaults(fj faultsJSON) {
	s.faultMu.Lock()
	s.faults = fj.faults()
	s.ctlMatch = [2]string{strings.ToUpper(fj.MatchMethod), fj.MatchPathPrefix}
	s.faultMu.Unlock()
}

func (s *Server) faultsOut() faultsJSON {
	s.faultMu.Lock()
	f, m := s.faults, s.ctlMatch
	s.faultMu.Unlock()
	return faultsJSON{Force429: f.Force429, Rate429: f.Rate429, Rate500: f.Rate500, Rate503: f.Rate503,
		DropRate: f.DropRate, LatencyMS: int(f.Latency / time.Millisecond), MatchMethod: m[0], MatchPathPrefix: m[1],
		CallbackDropRate: f.CallbackDropRate, CallbackDuplicateRate: f.CallbackDuplicateRate,
		CallbackDelayRate: f.CallbackDelayRate, CallbackDelayMS: int(f.CallbackDelay / time.Millisecond),
		CallbackReorderRate: f.CallbackReorderRate}
}

func (c *controlReq) setFaults() {
	var fj faultsJSON
	if !c.decode(&fj) {
		return
	}
	if err := fj.validate(); err != nil {
		ctlErr(c.w, errf(20001, "Invalid %v", strings.TrimPrefix(err.Error(), "videotest: faults: ")))
		return
	}
	c.s.setControlFaults(fj)
	ctlJSON(c.w, http.StatusOK, c.s.faultsOut())
}

// statsJSON is [Stats] with JSON names.
type statsJSON struct {
	TotalRequests        int64            `json:"total_requests"`
	Reads                int64            `json:"reads"`
	Writes               int64            `json:"writes"`
	MonitorReads         int64            `json:"monitor_reads"`
	Throttled            int64            `json:"throttled"`
	ThrottledConcurrency int64            `json:"throttled_concurrency"`
	Faulted              int64            `json:"faulted"`
	Unauthorized         int64            `json:"unauthorized"`
	Requests             map[string]int64 `json:"requests_by_status"`
	InFlightPeak         int64            `json:"in_flight_peak"`
	RoomsNow             int              `json:"rooms_now"`
	RoomsPeak            int              `json:"rooms_peak"`
	ParticipantsNow      int              `json:"participants_now"`
	ParticipantsPeak     int              `json:"participants_peak"`
	RoomsCreated         int64            `json:"rooms_created"`
	RoomsEnded           int64            `json:"rooms_ended"`
	ParticipantsJoined   int64            `json:"participants_joined"`
	CallbacksSent        int64            `json:"callbacks_sent"`
	CallbacksFailed      int64            `json:"callbacks_failed"`
	CallbacksDropped     int64            `json:"callbacks_dropped"`
	CallbacksDuplicated  int64            `json:"callbacks_duplicated"`
	DebuggerEventsSent   int64            `json:"debugger_events_sent"`
	DebuggerEventsFailed int64            `json:"debugger_events_failed"`
	Alerts               int              `json:"alerts"`
}

func statsOut(st Stats) statsJSON {
	by := make(map[string]int64, len(st.Requests))
	for k, v := range st.Requests {
		by[strconv.Itoa(k)] = v
	}
	return statsJSON{TotalRequests: st.TotalRequests, Reads: st.Reads, Writes: st.Writes,
		MonitorReads: st.MonitorReads, Throttled: st.Throttled, ThrottledConcurrency: st.ThrottledConcurrency,
		Faulted: st.Faulted, Unauthorized: st.Unauthorized, Requests: by, InFlightPeak: st.InFlightPeak,
		RoomsNow: st.RoomsNow, RoomsPeak: st.RoomsPeak, ParticipantsNow: st.ParticipantsNow,
		ParticipantsPeak: st.ParticipantsPeak, RoomsCreated: st.RoomsCreated, RoomsEnded: st.RoomsEnded,
		ParticipantsJoined: st.ParticipantsJoined, CallbacksSent: st.CallbacksSent,
		CallbacksFailed: st.CallbacksFailed, CallbacksDropped: st.CallbacksDropped,
		CallbacksDuplicated: st.CallbacksDuplicated, DebuggerEventsSent: st.DebuggerEventsSent,
		DebuggerEventsFailed: st.DebuggerEventsFailed, Alerts: st.Alerts}
}
