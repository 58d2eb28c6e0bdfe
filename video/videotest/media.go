package videotest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type recordingOut struct {
	AccountSid            string            `json:"account_sid"`
	Status                string            `json:"status"`
	DateCreated           string            `json:"date_created"`
	Sid                   string            `json:"sid"`
	SourceSid             string            `json:"source_sid"`
	Size                  *int64            `json:"size"`
	URL                   string            `json:"url"`
	Type                  string            `json:"type"`
	Duration              *int              `json:"duration"`
	ContainerFormat       string            `json:"container_format"`
	Codec                 string            `json:"codec"`
	GroupingSids          map[string]string `json:"grouping_sids"`
	TrackName             string            `json:"track_name"`
	Offset                int64             `json:"offset"`
	MediaExternalLocation *string           `json:"media_external_location"`
	StatusCallback        json.RawMessage   `json:"status_callback,omitempty"` // null or the URL, account-wide only
	StatusCallbackMethod  *string           `json:"status_callback_method,omitempty"`
	RoomSid               *string           `json:"room_sid,omitempty"`
	Links                 map[string]string `json:"links"`
}

func (s *Server) renderRecording(base string, rec *recording, inRoom bool) recordingOut {
	u := base + "/v1/Recordings/" + rec.sid
	if inRoom {
		u = base + "/v1/Rooms/" + rec.roomSid + "/Recordings/" + rec.sid
	}
	o := recordingOut{AccountSid: s.accountSID, Status: rec.status, DateCreated: ts(rec.created), Sid: rec.sid,
		SourceSid: rec.sourceSid, URL: u, Type: rec.typ, ContainerFormat: rec.container, Codec: rec.codec,
		GroupingSids: map[string]string{"room_sid": rec.roomSid, "participant_sid": rec.participantSid},
		TrackName:    rec.trackName, Offset: rec.offset, Links: map[string]string{"media": u + "/Media"}}
	if rec.status == "completed" {
		d := seconds(rec.created, rec.completed)
		sz := int64(d) * 16000 // a plausible size: 128 kbit/s
		o.Duration, o.Size = &d, &sz
	}
	if inRoom {
		rs := rec.roomSid
		o.RoomSid = &rs
	} else {
		m := "POST"
		o.StatusCallback, _ = marshal(strPtr(rec.callback)) // the spec's account-wide Recording has it, null or the URL
		o.StatusCallbackMethod = &m
	}
	return o
}

// recordingFilter holds the list filters common to both recording lists.
type recordingFilter struct {
	status, source, media string
	grouping              []string
	dates                 dateFilter
}

// parseRecordingFilter reads the filters of the account-wide list, or (not
// account) of a room's list, which has no GroupingSid or MediaType.
func parseRecordingFilter(l *listReq, account bool) recordingFilter {
	var f recordingFilter
	f.status = l.oneOf("Status", "", "processing", "completed", "deleted", "failed")
	f.source = l.text("SourceSid")
	if account {
		f.grouping = l.q["GroupingSid"]
		for _, g := range f.grouping {
			l.filters.Add("GroupingSid", g)
		}
		f.media = l.oneOf("MediaType", "", "audio", "video", "data")
	}
	f.dates = l.dates("DateCreatedAfter", "DateCreatedBefore", false)
	return f
}

func (f recordingFilter) ok(rec *recording) bool {
	return !rec.deleted && (f.status == "" || rec.status == f.status) && (f.source == "" || rec.sourceSid == f.source) &&
		groupingOK(f.grouping, rec) &&
		(f.media == "" || rec.typ == f.media) && f.dates.ok(rec.created)
}

func (s *Server) listRecordings(w http.ResponseWriter, r *http.Request) {
	l := parseList(r)
	f := parseRecordingFilter(l, true)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := baseURL(r)
	s.mu.Lock()
	items := newestFirst(s.recOrder, f.ok)
	writePageLocked(s, w, r, "recordings", l, items, func(x *recording) any { return s.renderRecording(base, x, false) })
}

func (s *Server) listRoomRecordings(w http.ResponseWriter, r *http.Request, roomRef string) {
	l := parseList(r)
	f := parseRecordingFilter(l, false)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := baseURL(r)
	rm, _, ok := s.lockLookup(w, r, roomRef, "")
	if !ok {
		return
	}
	items := inOrder(rm.recordings, f.ok)
	writePageLocked(s, w, r, "recordings", l, items, func(x *recording) any { return s.renderRecording(base, x, true) })
}

// findRecordingLocked returns a live recording, optionally scoped to a room.
func (s *Server) findRecordingLocked(r *http.Request, roomRef, sid string) (*recording, *Error) {
	rec := s.recordings[sid]
	if rec == nil || rec.deleted {
		return nil, notFound(r)
	}
	if roomRef != "" {
		rm := s.findRoomLocked(roomRef)
		if rm == nil || rm.sid != rec.roomSid {
			return nil, notFound(r)
		}
	}
	return rec, nil
}

func (s *Server) fetchRecording(w http.ResponseWriter, r *http.Request, sid string) {
	s.fetchRoomRecording(w, r, "", sid)
}

// fetchRoomRecording answers both fetches: under a room (roomRef set, as the
// router always sets it there) or account-wide (roomRef empty).
func (s *Server) fetchRoomRecording(w http.ResponseWriter, r *http.Request, roomRef, sid string) {
	s.respond(w, http.StatusOK, func() (any, *Error) {
		rec, e := s.findRecordingLocked(r, roomRef, sid)
		if e != nil {
			return nil, e
		}
		return s.renderRecording(baseURL(r), rec, roomRef != ""), nil
	})
}

func (s *Server) deleteRecording(w http.ResponseWriter, r *http.Request, sid string) {
	s.deleteRoomRecording(w, r, "", sid)
}

func (s *Server) deleteRoomRecording(w http.ResponseWriter, r *http.Request, roomRef, sid string) {
	s.mu.Lock()
	rec, e := s.findRecordingLocked(r, roomRef, sid)
	if e == nil {
		if rec.status == "processing" {
			e = errf(20001, "Recording %s is still processing and cannot be deleted", sid)
		} else {
			rec.deleted, rec.status = true, "deleted"
		}
	}
	s.mu.Unlock()
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeNoContent(w)
}

type transcriptionOut struct {
	Ttid          string          `json:"ttid"`
	AccountSid    string          `json:"account_sid"`
	RoomSid       string          `json:"room_sid"`
	SourceSid     *string         `json:"source_sid"`
	Status        string          `json:"status"`
	DateCreated   string          `json:"date_created"`
	DateUpdated   string          `json:"date_updated"`
	StartTime     string          `json:"start_time"`
	EndTime       *string         `json:"end_time"`
	Duration      *int            `json:"duration"`
	URL           string          `json:"url"`
	Configuration json.RawMessage `json:"configuration"`
}

func (s *Server) renderTranscription(base string, t *transcription) transcriptionOut {
	cfg := t.config
	if cfg == nil {
		cfg = json.RawMessage(`{}`)
	}
	o := transcriptionOut{Ttid: t.ttid, AccountSid: s.accountSID, RoomSid: t.roomSid, Status: t.status,
		DateCreated: ts(t.created), DateUpdated: ts(t.updated), StartTime: ts(t.start), EndTime: tsPtr(t.end),
		URL: base + "/v1/Rooms/" + t.roomSid + "/Transcriptions/" + t.ttid, Configuration: cfg}
	if !t.end.IsZero() {
		d := seconds(t.start, t.end)
		o.Duration = &d
	}
	return o
}

func (s *Server) listTranscriptions(w http.ResponseWriter, r *http.Request, roomRef string) {
	l := parseList(r)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := baseURL(r)
	rm, _, ok := s.lockLookup(w, r, roomRef, "")
	if !ok {
		return
	}
	writePageLocked(s, w, r, "transcriptions", l, rm.transcriptions, func(t *transcription) any { return s.renderTranscription(base, t) })
}

func (s *Server) createTranscription(w http.ResponseWriter, r *http.Request, roomRef string) {
	cfg, e := parseJSONObject(r.PostForm, "Configuration")
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.respondIn(w, r, roomRef, "", http.StatusAccepted, func(rm *room, _ *participant) (any, *Error) {
		if rm.status != "in-progress" {
			return nil, errf(53112, "Transcriptions can only be started while the Room is in-progress")
		}
		now := s.clock.Now()
		t := &transcription{ttid: s.newSID("GT"), status: "started", roomSid: rm.sid, created: now, updated: now,
			start: now, config: cfg}
		rm.transcriptions = append(rm.transcriptions, t)
		return s.renderTranscription(baseURL(r), t), nil
	})
}

func (s *Server) findTranscriptionLocked(r *http.Request, roomRef, ttid string) (*transcription, *Error) {
	rm, _, e := s.lookupLocked(r, roomRef, "")
	if e != nil {
		return nil, e
	}
	for _, t := range rm.transcriptions {
		if t.ttid == ttid {
			return t, nil
		}
	}
	return nil, notFound(r)
}

func (s *Server) fetchTranscription(w http.ResponseWriter, r *http.Request, roomRef, ttid string) {
	s.respond(w, http.StatusOK, func() (any, *Error) {
		t, e := s.findTranscriptionLocked(r, roomRef, ttid)
		if e != nil {
			return nil, e
		}
		return s.renderTranscription(baseURL(r), t), nil
	})
}

func (s *Server) updateTranscription(w http.ResponseWriter, r *http.Request, roomRef, ttid string) {
	st := r.PostForm.Get("Status")
	switch st {
	case "", "started", "stopped":
	default:
		s.writeErr(w, errf(20001, "Invalid Status %q: use started or stopped", st))
		return
	}
	cfg, e := parseJSONObject(r.PostForm, "Configuration")
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.respond(w, http.StatusAccepted, func() (any, *Error) {
		t, e := s.findTranscriptionLocked(r, roomRef, ttid)
		if e != nil {
			return nil, e
		}
		now := s.clock.Now()
		if st == "started" && t.status != "started" {
			if rm := s.rooms[t.roomSid]; rm == nil || rm.status != "in-progress" {
				return nil, errf(53112, "Transcriptions can only be started while the Room is in-progress")
			}
			t.status, t.end, t.updated = "started", timeZero, now
		} else if st == "stopped" && t.status == "started" {
			t.status, t.end, t.updated = "stopped", now, now
		}
		if cfg != nil {
			t.config, t.updated = cfg, now
		}
		return s.renderTranscription(baseURL(r), t), nil
	})
}

type compositionOut struct {
	AccountSid            string            `json:"account_sid"`
	Status                string            `json:"status"`
	DateCreated           string            `json:"date_created"`
	DateCompleted         *string           `json:"date_completed"`
	DateDeleted           *string           `json:"date_deleted"`
	Sid                   string            `json:"sid"`
	RoomSid               string            `json:"room_sid"`
	AudioSources          []string          `json:"audio_sources"`
	AudioSourcesExcluded  []string          `json:"audio_sources_excluded"`
	VideoLayout           json.RawMessage   `json:"video_layout"`
	Resolution            string            `json:"resolution"`
	Trim                  bool              `json:"trim"`
	Format                string            `json:"format"`
	Bitrate               int               `json:"bitrate"`
	Size                  *int64            `json:"size"`
	Duration              int               `json:"duration"`
	MediaExternalLocation *string           `json:"media_external_location"`
	StatusCallback        *string           `json:"status_callback"`
	StatusCallbackMethod  string            `json:"status_callback_method"`
	URL                   string            `json:"url"`
	Links                 map[string]string `json:"links"`
}

func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func layoutOrEmpty(l json.RawMessage) json.RawMessage {
	if l == nil {
		return json.RawMessage(`{}`)
	}
	return l
}

func (s *Server) renderComposition(base string, c *composition) compositionOut {
	u := base + "/v1/Compositions/" + c.sid
	o := compositionOut{AccountSid: s.accountSID, Status: c.status, DateCreated: ts(c.created),
		DateCompleted: tsPtr(c.completed), DateDeleted: tsPtr(c.deleted), Sid: c.sid, RoomSid: c.roomSid,
		AudioSources: orEmpty(c.audio), AudioSourcesExcluded: orEmpty(c.audioExcluded),
		VideoLayout: layoutOrEmpty(c.layout), Resolution: c.resolution, Trim: c.trim, Format: c.format,
		StatusCallback: strPtr(c.callback), StatusCallbackMethod: c.cbMethod, URL: u,
		Links: map[string]string{"media": u + "/Media"}}
	if c.status == "completed" || (c.status == "deleted" && !c.completed.IsZero()) {
		sz := int64(c.duration) * compositionBitrate * 1000 / 8
		o.Size, o.Duration, o.Bitrate = &sz, c.duration, compositionBitrate
	}
	return o
}

// The emulated composition pipeline: a new Composition is enqueued for
// compositionQueueTime, then processing for compositionProcessTime, then
// completed, its media as long as the Room was in progress, at
// compositionBitrate kb/s. Twilio documents the states and their order (the
// spec's composition status: "enqueued is the initial state") but not their
// durations, which are the emulator's choice.
const (
	compositionQueueTime   = time.Second
	compositionProcessTime = 5 * time.Second
	compositionBitrate     = 1000
)

// advanceCompositionLocked moves c to its next state and schedules the one
// after, sending the composition callbacks Twilio documents
// (https://www.twilio.com/docs/video/api/compositions-resource#composition-status-callbacks).
// Requires s.mu held.
func (s *Server) advanceCompositionLocked(c *composition) {
	if s.closed || !c.deleted.IsZero() {
		return
	}
	var next time.Duration
	switch c.status {
	case "":
		c.status, next = "enqueued", compositionQueueTime
		s.compositionEventLocked(c, "composition-enqueued")
	case "enqueued":
		c.status, next = "processing", compositionProcessTime
		s.compositionEventLocked(c, "composition-started")
	case "processing":
		c.status, c.completed = "completed", s.clock.Now()
		if rm := s.rooms[c.roomSid]; rm != nil {
			c.duration = seconds(rm.created, rm.ended)
		}
		s.compositionEventLocked(c, "composition-available")
		return
	default:
		return
	}
	var t Timer
	t = s.clock.AfterFunc(next, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c.timer == t {
			c.timer = nil
			s.advanceCompositionLocked(c)
		}
	})
	c.timer = t
}

// compositionEventLocked queues a composition status callback, if c has one.
func (s *Server) compositionEventLocked(c *composition, event string) {
	if c.callback == "" {
		return
	}
	v := url.Values{}
	v.Set("AccountSid", s.accountSID)
	v.Set("CompositionSid", c.sid)
	v.Set("RoomSid", c.roomSid)
	v.Set("StatusCallbackEvent", event)
	v.Set("Timestamp", ts(s.clock.Now()))
	v.Set("CompositionUri", "/v1/Compositions/"+c.sid)
	if event == "composition-available" {
		v.Set("MediaUri", "/v1/Compositions/"+c.sid+"/Media")
		v.Set("Duration", itoa(c.duration))
		v.Set("Size", strconv.FormatInt(int64(c.duration)*compositionBitrate*1000/8, 10))
	}
	s.disp.enqueue(delivery{url: c.callback, method: c.cbMethod, params: v, key: c.callback})
}

// parseComposition reads the media fields shared by compositions and hooks.
func parseMediaSpec(q url.Values) (audio, excluded []string, layout json.RawMessage, res, format string, trim bool, e *Error) {
	audio, excluded = q["AudioSources"], q["AudioSourcesExcluded"]
	if layout, e = parseJSONObject(q, "VideoLayout"); e != nil {
		return
	}
	res = q.Get("Resolution")
	if res == "" {
		res = "640x480"
	} else if i := strings.IndexByte(res, 'x'); i <= 0 || i == len(res)-1 {
		e = errf(20001, "Invalid Resolution %q: use WIDTHxHEIGHT", res)
		return
	}
	format = q.Get("Format")
	switch format {
	case "":
		format = "webm"
	case "mp4", "webm":
	default:
		e = errf(20001, "Invalid Format %q: use mp4 or webm", format)
		return
	}
	trim = true
	if v, set, err := parseBool(q, "Trim"); err != nil {
		e = err
		return
	} else if set {
		trim = v
	}
	if layout == nil && len(audio) == 0 {
		e = errf(20001, "Missing required parameter VideoLayout or AudioSources in the post body")
	}
	return
}

func (s *Server) createComposition(w http.ResponseWriter, r *http.Request) {
	q := r.PostForm
	roomSid := q.Get("RoomSid")
	if roomSid == "" {
		s.writeErr(w, missing("RoomSid"))
		return
	}
	if !isSID(roomSid, "RM") {
		s.writeErr(w, errf(20001, "Invalid RoomSid %q", roomSid))
		return
	}
	audio, excl, layout, res, format, trim, e := parseMediaSpec(q)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	cb, m, e := validCallback(q)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.respond(w, http.StatusCreated, func() (any, *Error) {
		switch rm := s.rooms[roomSid]; {
		case rm == nil:
			return nil, errf(20404, "The requested resource Room %s was not found", roomSid)
		case rm.status == "in-progress":
			return nil, errf(53112, "Compositions can only be created for completed Rooms")
		}
		now := s.clock.Now()
		c := &composition{sid: s.newSID("CJ"), roomSid: roomSid, resolution: res, format: format,
			created: now, audio: audio, audioExcluded: excl, layout: layout, trim: trim,
			callback: cb, cbMethod: m}
		s.advanceCompositionLocked(c)
		s.compositions[c.sid] = c
		s.compOrder = append(s.compOrder, c)
		return s.renderComposition(baseURL(r), c), nil
	})
}

func (s *Server) listCompositions(w http.ResponseWriter, r *http.Request) {
	l := parseList(r)
	status := l.oneOf("Status", "", "enqueued", "processing", "completed", "deleted", "failed")
	roomSid := l.text("RoomSid")
	df := l.dates("DateCreatedAfter", "DateCreatedBefore", false)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := baseURL(r)
	s.mu.Lock()
	items := newestFirst(s.compOrder, func(c *composition) bool {
		return c.deleted.IsZero() && (status == "" || c.status == status) && (roomSid == "" || c.roomSid == roomSid) && df.ok(c.created)
	})
	writePageLocked(s, w, r, "compositions", l, items, func(c *composition) any { return s.renderComposition(base, c) })
}

func (s *Server) fetchComposition(w http.ResponseWriter, r *http.Request, sid string) {
	s.respond(w, http.StatusOK, func() (any, *Error) {
		c := s.compositions[sid]
		if c == nil || !c.deleted.IsZero() {
			return nil, notFound(r)
		}
		return s.renderComposition(baseURL(r), c), nil
	})
}

func (s *Server) deleteComposition(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	c := s.compositions[sid]
	ok := c != nil && c.deleted.IsZero()
	if ok {
		stopTimer(&c.timer)
		c.deleted, c.status = s.clock.Now(), "deleted"
	}
	s.mu.Unlock()
	if !ok {
		s.writeErr(w, notFound(r))
		return
	}
	s.writeNoContent(w)
}

type hookOut struct {
	AccountSid           string          `json:"account_sid"`
	FriendlyName         string          `json:"friendly_name"`
	Enabled              bool            `json:"enabled"`
	DateCreated          string          `json:"date_created"`
	DateUpdated          *string         `json:"date_updated"`
	Sid                  string          `json:"sid"`
	AudioSources         []string        `json:"audio_sources"`
	AudioSourcesExcluded []string        `json:"audio_sources_excluded"`
	VideoLayout          json.RawMessage `json:"video_layout"`
	Resolution           string          `json:"resolution"`
	Trim                 bool            `json:"trim"`
	Format               string          `json:"format"`
	StatusCallback       *string         `json:"status_callback"`
	StatusCallbackMethod string          `json:"status_callback_method"`
	URL                  string          `json:"url"`
}

func (s *Server) renderHook(base string, h *compositionHook) hookOut {
	return hookOut{AccountSid: s.accountSID, FriendlyName: h.friendlyName, Enabled: h.enabled,
		DateCreated: ts(h.created), DateUpdated: tsPtr(h.updated), Sid: h.sid,
		AudioSources: orEmpty(h.audio), AudioSourcesExcluded: orEmpty(h.audioExcluded),
		VideoLayout: layoutOrEmpty(h.layout), Resolution: h.resolution, Trim: h.trim, Format: h.format,
		StatusCallback: strPtr(h.callback), StatusCallbackMethod: h.cbMethod, URL: base + "/v1/CompositionHooks/" + h.sid}
}

// parseHook validates a create/update hook form into h.
func parseHook(q url.Values, h *compositionHook) *Error {
	h.friendlyName = q.Get("FriendlyName")
	if h.friendlyName == "" {
		return missing("FriendlyName")
	}
	if len(h.friendlyName) > 100 {
		return errf(20001, "Invalid FriendlyName: longer than 100 characters")
	}
	var e *Error
	if h.audio, h.audioExcluded, h.layout, h.resolution, h.format, h.trim, e = parseMediaSpec(q); e != nil {
		return e
	}
	h.enabled = true
	if v, set, e := parseBool(q, "Enabled"); e != nil {
		return e
	} else if set {
		h.enabled = v
	}
	h.callback, h.cbMethod, e = validCallback(q)
	return e
}

func (s *Server) createHook(w http.ResponseWriter, r *http.Request) {
	var h compositionHook
	if e := parseHook(r.PostForm, &h); e != nil {
		s.writeErr(w, e)
		return
	}
	s.respond(w, http.StatusCreated, func() (any, *Error) {
		for _, o := range s.hookOrder {
			if o.friendlyName == h.friendlyName {
				return nil, errf(20001, "A CompositionHook named %q already exists", h.friendlyName)
			}
		}
		h.sid, h.created = s.newSID("HK"), s.clock.Now()
		hp := &h
		s.hooks[h.sid] = hp
		s.hookOrder = append(s.hookOrder, hp)
		return s.renderHook(baseURL(r), hp), nil
	})
}

func (s *Server) updateHook(w http.ResponseWriter, r *http.Request, sid string) {
	var h compositionHook
	if e := parseHook(r.PostForm, &h); e != nil {
		s.writeErr(w, e)
		return
	}
	s.respond(w, http.StatusOK, func() (any, *Error) {
		old := s.hooks[sid]
		if old == nil {
			return nil, notFound(r)
		}
		h.sid, h.created, h.updated = old.sid, old.created, s.clock.Now()
		*old = h
		return s.renderHook(baseURL(r), old), nil
	})
}

func (s *Server) listHooks(w http.ResponseWriter, r *http.Request) {
	l := parseList(r)
	en, enSet := l.boolean("Enabled")
	fn := l.text("FriendlyName")
	df := l.dates("DateCreatedAfter", "DateCreatedBefore", false)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := baseURL(r)
	s.mu.Lock()
	items := newestFirst(s.hookOrder, func(h *compositionHook) bool {
		return (!enSet || h.enabled == en) && (fn == "" || nameMatch(fn, h.friendlyName)) && df.ok(h.created)
	})
	writePageLocked(s, w, r, "composition_hooks", l, items, func(h *compositionHook) any { return s.renderHook(base, h) })
}

func (s *Server) fetchHook(w http.ResponseWriter, r *http.Request, sid string) {
	s.respond(w, http.StatusOK, func() (any, *Error) {
		h := s.hooks[sid]
		if h == nil {
			return nil, notFound(r)
		}
		return s.renderHook(baseURL(r), h), nil
	})
}

func (s *Server) deleteHook(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	h := s.hooks[sid]
	if h != nil {
		delete(s.hooks, sid)
		for i, o := range s.hookOrder {
			if o == h {
				s.hookOrder = append(s.hookOrder[:i:i], s.hookOrder[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if h == nil {
		s.writeErr(w, notFound(r))
		return
	}
	s.writeNoContent(w)
}

type settingsOut struct {
	AccountSid        string  `json:"account_sid"`
	FriendlyName      string  `json:"friendly_name"`
	AwsCredentialsSid *string `json:"aws_credentials_sid"`
	AwsS3URL          *string `json:"aws_s3_url"`
	AwsStorageEnabled bool    `json:"aws_storage_enabled"`
	EncryptionKeySid  *string `json:"encryption_key_sid"`
	EncryptionEnabled bool    `json:"encryption_enabled"`
	URL               string  `json:"url"`
}

func (s *Server) renderSettings(base string, st *settings, rec bool) settingsOut {
	path := "/v1/CompositionSettings/Default"
	if rec {
		path = "/v1/RecordingSettings/Default"
	}
	return settingsOut{AccountSid: s.accountSID, FriendlyName: st.friendlyName,
		AwsCredentialsSid: strPtr(st.awsCredentialsSid), AwsS3URL: strPtr(st.awsS3URL), AwsStorageEnabled: st.awsStorage,
		EncryptionKeySid: strPtr(st.encryptionKeySid), EncryptionEnabled: st.encryption, URL: base + path}
}

func (s *Server) fetchSettings(w http.ResponseWriter, r *http.Request, rec bool) {
	s.mu.Lock()
	st := &s.compSettings
	if rec {
		st = &s.recSettings
	}
	out := s.renderSettings(baseURL(r), st, rec)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request, rec bool) {
	q := r.PostForm
	var n settings
	n.friendlyName = q.Get("FriendlyName")
	if n.friendlyName == "" {
		s.writeErr(w, missing("FriendlyName"))
		return
	}
	n.awsCredentialsSid, n.encryptionKeySid, n.awsS3URL = q.Get("AwsCredentialsSid"), q.Get("EncryptionKeySid"), q.Get("AwsS3Url")
	if n.awsCredentialsSid != "" && !isSID(n.awsCredentialsSid, "CR") {
		s.writeErr(w, errf(20001, "Invalid AwsCredentialsSid %q", n.awsCredentialsSid))
		return
	}
	if n.encryptionKeySid != "" && !isSID(n.encryptionKeySid, "CR") {
		s.writeErr(w, errf(20001, "Invalid EncryptionKeySid %q", n.encryptionKeySid))
		return
	}
	if n.awsS3URL != "" {
		if u, err := url.Parse(n.awsS3URL); err != nil || u.Scheme != "https" || u.Host == "" {
			s.writeErr(w, errf(20001, "Invalid AwsS3Url %q", n.awsS3URL))
			return
		}
	}
	var e *Error
	if n.awsStorage, _, e = parseBool(q, "AwsStorageEnabled"); e != nil {
		s.writeErr(w, e)
		return
	}
	if n.encryption, _, e = parseBool(q, "EncryptionEnabled"); e != nil {
		s.writeErr(w, e)
		return
	}
	s.mu.Lock()
	st := &s.compSettings
	if rec {
		st = &s.recSettings
	}
	n.created = st.created
	*st = n
	out := s.renderSettings(baseURL(r), st, rec)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

// nameMatch is the case-insensitive FriendlyName filter, with * wildcards.
func nameMatch(pattern, name string) bool {
	pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(name, p)
		}
		j := strings.Index(name, p)
		if j < 0 {
			return false
		}
		name = name[j+len(p):]
	}
	return true
}

// groupingOK reports whether every GroupingSid filter names the recording's
// room or participant.
func groupingOK(gs []string, rec *recording) bool {
	for _, g := range gs {
		if g != rec.roomSid && g != rec.participantSid {
			return false
		}
	}
	return true
}
