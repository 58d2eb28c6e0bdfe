package videotest

import (
	"encoding/json"
	"net/http"
	"net/url"
)

type roomOut struct {
	Sid                          string    `json:"sid"`
	Status                       string    `json:"status"`
	DateCreated                  string    `json:"date_created"`
	DateUpdated                  string    `json:"date_updated"`
	AccountSid                   string    `json:"account_sid"`
	EnableTurn                   bool      `json:"enable_turn"`
	UniqueName                   string    `json:"unique_name"`
	StatusCallback               *string   `json:"status_callback"`
	StatusCallbackMethod         string    `json:"status_callback_method"`
	EndTime                      *string   `json:"end_time"`
	Duration                     *int      `json:"duration"`
	Type                         string    `json:"type"`
	MaxParticipants              int       `json:"max_participants"`
	MaxParticipantDuration       int       `json:"max_participant_duration"`
	MaxConcurrentPublishedTracks *int      `json:"max_concurrent_published_tracks"`
	RecordParticipantsOnConnect  bool      `json:"record_participants_on_connect"`
	VideoCodecs                  []string  `json:"video_codecs"`
	MediaRegion                  *string   `json:"media_region"`
	AudioOnly                    bool      `json:"audio_only"`
	EmptyRoomTimeout             int       `json:"empty_room_timeout"`
	UnusedRoomTimeout            int       `json:"unused_room_timeout"`
	LargeRoom                    bool      `json:"large_room"`
	URL                          string    `json:"url"`
	Links                        roomLinks `json:"links"`
}

type roomLinks struct {
	Participants   string `json:"participants"`
	Recordings     string `json:"recordings"`
	RecordingRules string `json:"recording_rules"`
	Transcriptions string `json:"transcriptions"`
}

// roomJSON returns the room's JSON for base, reusing the last encoding while
// nothing visible changed (status, date_updated and end_time are the only
// fields that change after creation). Requires s.mu held.
func (s *Server) roomJSON(base string, r *room) json.RawMessage {
	c := &r.cache
	if c.b != nil && c.base == base && c.status == r.status && c.updated.Equal(r.updated) && c.ended.Equal(r.ended) {
		return c.b
	}
	b, _ := marshal(s.renderRoom(base, r))
	*c = jsonCache{b: b, base: base, status: r.status, updated: r.updated, ended: r.ended}
	return b
}

func (s *Server) renderRoom(base string, r *room) any {
	u := base + "/v1/Rooms/" + r.sid
	o := roomOut{
		Sid: r.sid, Status: r.status, DateCreated: ts(r.created), DateUpdated: ts(r.updated),
		AccountSid: s.accountSID, EnableTurn: true, UniqueName: r.name,
		StatusCallback: strPtr(r.callback), StatusCallbackMethod: r.cbMethod,
		EndTime: tsPtr(r.ended), Type: r.typ, MaxParticipants: r.maxParts,
		MaxParticipantDuration: r.maxPartDur, RecordParticipantsOnConnect: r.recordOnConnect,
		VideoCodecs: r.codecs, MediaRegion: strPtr(r.mediaRegion), AudioOnly: r.audioOnly,
		EmptyRoomTimeout: r.emptyTimeout, UnusedRoomTimeout: r.unusedTimeout, LargeRoom: r.largeRoom,
		URL: u,
		Links: roomLinks{
			Participants:   u + "/Participants",
			Recordings:     u + "/Recordings",
			RecordingRules: u + "/RecordingRules",
			Transcriptions: u + "/Transcriptions",
		},
	}
	zero := 0
	o.MaxConcurrentPublishedTracks = &zero
	if !r.ended.IsZero() {
		d := seconds(r.created, r.ended)
		o.Duration = &d
	}
	return o
}

var mediaRegions = map[string]bool{"gll": true, "au1": true, "br1": true, "de1": true, "ie1": true,
	"in1": true, "jp1": true, "sg1": true, "us1": true, "us2": true}

func (s *Server) createRoom(w http.ResponseWriter, r *http.Request) {
	sp, e := parseRoomSpec(r.PostForm)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.respond(w, http.StatusCreated, func() (any, *Error) {
		rm, e := s.createRoomLocked(sp)
		if e != nil {
			return nil, e
		}
		return s.renderRoom(baseURL(r), rm), nil
	})
}

// parseRoomSpec validates the CreateRoom form.
func parseRoomSpec(q url.Values) (roomSpec, *Error) {
	sp := roomSpec{typ: "group", mediaRegion: "gll"}
	if v := q.Get("Type"); v != "" {
		if _, ok := maxParticipantsByType[v]; !ok {
			return sp, errf(20001, "Invalid Type %q: use group, group-small, peer-to-peer or go", v)
		}
		sp.typ = v
	}
	sp.name = q.Get("UniqueName")
	if len(sp.name) > 128 {
		return sp, errf(53101, "Room name is too long (%d characters, max 128)", len(sp.name))
	}
	if isSID(sp.name, "RM") {
		return sp, errf(53100, "Room name is invalid: %q is a Room SID", sp.name)
	}
	var e *Error
	if sp.callback, sp.cbMethod, e = validCallback(q); e != nil {
		return sp, e
	}
	if sp.largeRoom, _, e = parseBool(q, "LargeRoom"); e != nil {
		return sp, e
	}
	limit := maxParticipantsByType[sp.typ]
	if sp.largeRoom {
		if sp.typ != "group" {
			return sp, errf(20001, "Invalid LargeRoom: only group Rooms can be Large Rooms, not %s", sp.typ)
		}
		limit = LargeRoomMaxParticipants
	}
	var set bool
	if sp.maxParts, set, e = parseInt(q, "MaxParticipants", limit); e != nil {
		return sp, e
	}
	if set && (sp.maxParts < 1 || sp.maxParts > limit) {
		kind := sp.typ
		if sp.largeRoom {
			kind = "Large"
		}
		return sp, errf(53107, "MaxParticipants %d is out of range: %s rooms allow 1 to %d", sp.maxParts, kind, limit)
	}
	if sp.maxPartDur, _, e = parseInt(q, "MaxParticipantDuration", DefaultMaxParticipantDuration); e != nil {
		return sp, e
	}
	if sp.maxPartDur < 600 || sp.maxPartDur > 86400 {
		return sp, errf(53123, "MaxParticipantDuration %d is out of range (600 to 86400 seconds)", sp.maxPartDur)
	}
	for _, k := range []string{"EmptyRoomTimeout", "UnusedRoomTimeout"} {
		n, _, e := parseInt(q, k, DefaultRoomTimeout)
		if e != nil {
			return sp, e
		}
		if n < 1 || n > 60 {
			return sp, errf(20001, "Invalid %s %d: must be 1 to 60 minutes", k, n)
		}
		if k == "EmptyRoomTimeout" {
			sp.emptyTimeout = n
		} else {
			sp.unusedTimeout = n
		}
	}
	for _, k := range []string{"EnableTurn", "RecordParticipantsOnConnect", "TranscribeParticipantsOnConnect", "AudioOnly"} {
		v, _, e := parseBool(q, k)
		if e != nil {
			return sp, e
		}
		switch k {
		case "RecordParticipantsOnConnect":
			sp.recordOnConnect = v
		case "TranscribeParticipantsOnConnect":
			sp.transcribe = v
		case "AudioOnly":
			sp.audioOnly = v
		}
	}
	for _, c := range q["VideoCodecs"] {
		if c != "VP8" && c != "H264" {
			return sp, errf(20001, "Invalid VideoCodecs %q: use VP8 or H264", c)
		}
		sp.codecs = append(sp.codecs, c)
	}
	if v := q.Get("MediaRegion"); v != "" {
		if !mediaRegions[v] {
			return sp, errf(20001, "Invalid MediaRegion %q", v)
		}
		sp.mediaRegion = v
	}
	if v := q.Get("RecordingRules"); v != "" {
		if sp.recRules, e = parseRules("RecordingRules", v, false); e != nil {
			return sp, e
		}
	}
	if _, e = parseJSONObject(q, "TranscriptionsConfiguration"); e != nil {
		return sp, e
	}
	return sp, nil
}

func (s *Server) fetchRoom(w http.ResponseWriter, r *http.Request, ref string) {
	s.mu.Lock()
	rm := s.findRoomLocked(ref)
	var out json.RawMessage
	if rm != nil {
		out = s.roomJSON(baseURL(r), rm)
	}
	s.mu.Unlock()
	if rm == nil {
		s.writeErr(w, notFound(r))
		return
	}
	s.writeRaw(w, http.StatusOK, out)
}

func (s *Server) updateRoom(w http.ResponseWriter, r *http.Request, ref string) {
	st := r.PostForm.Get("Status")
	if st == "" {
		s.writeErr(w, missing("Status"))
		return
	}
	if st != "completed" && st != "in-progress" && st != "failed" {
		s.writeErr(w, errf(20001, "Invalid Status %q", st))
		return
	}
	s.respondIn(w, r, ref, "", http.StatusAccepted, func(rm *room, _ *participant) (any, *Error) {
		switch {
		case st != "completed":
			return nil, errf(53112, "Status is invalid: only completed can be set")
		case rm.status != "in-progress":
			return nil, errf(53112, "Status is invalid: the Room is %s, not in-progress", rm.status)
		}
		s.completeRoomLocked(rm)
		return s.renderRoom(baseURL(r), rm), nil
	})
}

func (s *Server) listRooms(w http.ResponseWriter, r *http.Request) {
	l := parseList(r)
	status := l.oneOf("Status", "", "in-progress", "completed", "failed")
	name := l.text("UniqueName")
	df := l.dates("DateCreatedAfter", "DateCreatedBefore", false)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	if status == "" {
		status = "in-progress"
	}
	base := baseURL(r)
	s.mu.Lock()
	items := newestFirst(s.roomOrder, func(rm *room) bool {
		return rm.status == status && (name == "" || rm.name == name) && df.ok(rm.created)
	})
	writePageLocked(s, w, r, "rooms", l, items, func(x *room) any { return s.roomJSON(base, x) })
}

type participantOut struct {
	Sid         string            `json:"sid"`
	RoomSid     string            `json:"room_sid"`
	AccountSid  string            `json:"account_sid"`
	Status      string            `json:"status"`
	Identity    string            `json:"identity"`
	DateCreated string            `json:"date_created"`
	DateUpdated string            `json:"date_updated"`
	StartTime   string            `json:"start_time"`
	EndTime     *string           `json:"end_time"`
	Duration    *int              `json:"duration"`
	URL         string            `json:"url"`
	Links       map[string]string `json:"links,omitempty"`
}

func (s *Server) renderParticipant(base string, p *participant, links bool) participantOut {
	u := base + "/v1/Rooms/" + p.room.sid + "/Participants/" + p.sid
	o := participantOut{Sid: p.sid, RoomSid: p.room.sid, AccountSid: s.accountSID, Status: p.status,
		Identity: p.identity, DateCreated: ts(p.created), DateUpdated: ts(p.updated), StartTime: ts(p.start),
		EndTime: tsPtr(p.end), URL: u}
	if !p.end.IsZero() {
		d := seconds(p.start, p.end)
		o.Duration = &d
	}
	if links {
		o.Links = map[string]string{
			"published_tracks":  u + "/PublishedTracks",
			"subscribed_tracks": u + "/SubscribedTracks",
			"subscribe_rules":   u + "/SubscribeRules",
			"anonymize":         u + "/Anonymize",
		}
	}
	return o
}

// lookupLocked resolves the room (SID or in-progress UniqueName) and, when
// pref is not empty, the participant (SID or connected identity).
func (s *Server) lookupLocked(r *http.Request, roomRef, pref string) (*room, *participant, *Error) {
	rm := s.findRoomLocked(roomRef)
	if rm == nil {
		return nil, nil, notFound(r)
	}
	if pref == "" {
		return rm, nil, nil
	}
	p := findParticipantLocked(rm, pref)
	if p == nil {
		return nil, nil, notFound(r)
	}
	return rm, p, nil
}

// respondIn answers a request on a room and, when pref is set, one of its
// participants: with s.mu held it resolves them as lookupLocked does (an
// unknown one is a 404) and calls f, then replies with status and f's result,
// or with the error.
func (s *Server) respondIn(w http.ResponseWriter, r *http.Request, roomRef, pref string, status int, f func(*room, *participant) (any, *Error)) {
	s.respond(w, status, func() (any, *Error) {
		rm, p, e := s.lookupLocked(r, roomRef, pref)
		if e != nil {
			return nil, e
		}
		return f(rm, p)
	})
}

// lockLookup locks s.mu and resolves the room and participant as lookupLocked
// does. On failure it unlocks, writes the error and returns ok false; on
// success s.mu stays held.
func (s *Server) lockLookup(w http.ResponseWriter, r *http.Request, roomRef, pref string) (rm *room, p *participant, ok bool) {
	s.mu.Lock()
	rm, p, e := s.lookupLocked(r, roomRef, pref)
	if e != nil {
		s.mu.Unlock()
		s.writeErr(w, e)
		return nil, nil, false
	}
	return rm, p, true
}

func (s *Server) listParticipants(w http.ResponseWriter, r *http.Request, roomRef string) {
	l := parseList(r)
	status := l.oneOf("Status", "", "connected", "disconnected", "reconnecting")
	ident := l.text("Identity")
	df := l.dates("DateCreatedAfter", "DateCreatedBefore", false)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := baseURL(r)
	rm, _, ok := s.lockLookup(w, r, roomRef, "")
	if !ok {
		return
	}
	if status == "" {
		status = "connected"
		if rm.status != "in-progress" {
			status = "disconnected"
		}
	}
	items := inOrder(rm.parts, func(p *participant) bool {
		return p.status == status && (ident == "" || p.identity == ident) && df.ok(p.created)
	})
	writePageLocked(s, w, r, "participants", l, items, func(p *participant) any { return s.renderParticipant(base, p, true) })
}

func (s *Server) fetchParticipant(w http.ResponseWriter, r *http.Request, roomRef, pref string) {
	s.respondIn(w, r, roomRef, pref, http.StatusOK, func(_ *room, p *participant) (any, *Error) {
		return s.renderParticipant(baseURL(r), p, true), nil
	})
}

func (s *Server) updateParticipant(w http.ResponseWriter, r *http.Request, roomRef, pref string) {
	st := r.PostForm.Get("Status")
	switch st {
	case "", "disconnected":
	case "connected", "reconnecting":
		s.writeErr(w, errf(20001, "Invalid Status %q: only disconnected can be set", st))
		return
	default:
		s.writeErr(w, errf(20001, "Invalid Status %q", st))
		return
	}
	s.respondIn(w, r, roomRef, pref, http.StatusAccepted, func(_ *room, p *participant) (any, *Error) {
		if st == "disconnected" {
			s.disconnectLocked(p, true)
		}
		return s.renderParticipant(baseURL(r), p, true), nil
	})
}

func (s *Server) anonymize(w http.ResponseWriter, r *http.Request, roomRef, pref string) {
	s.respondIn(w, r, roomRef, pref, http.StatusOK, func(_ *room, p *participant) (any, *Error) {
		if p.live() {
			return nil, errf(20001, "Participant %s is connected: only disconnected Participants can be anonymized", p.sid)
		}
		p.identity = p.sid
		p.updated = s.clock.Now()
		return s.renderParticipant(baseURL(r), p, false), nil
	})
}

type trackOut struct {
	Sid            string  `json:"sid"`
	ParticipantSid string  `json:"participant_sid"`
	PublisherSid   *string `json:"publisher_sid,omitempty"`
	RoomSid        string  `json:"room_sid"`
	Name           string  `json:"name"`
	DateCreated    string  `json:"date_created"`
	DateUpdated    string  `json:"date_updated"`
	Enabled        bool    `json:"enabled"`
	Kind           string  `json:"kind"`
	URL            string  `json:"url"`
}

// tracksLocked returns the participant's published tracks, or (subscribed)
// the tracks of the room's other connected participants it receives.
func tracksLocked(rm *room, p *participant, subscribed bool) []*track {
	if !p.live() {
		return nil
	}
	if !subscribed {
		return p.published
	}
	var out []*track
	for _, o := range rm.parts {
		if o != p && o.live() {
			out = append(out, o.published...)
		}
	}
	return out
}

func renderTrack(base string, rm *room, p *participant, t *track, subscribed bool) trackOut {
	kind := "PublishedTracks"
	if subscribed {
		kind = "SubscribedTracks"
	}
	o := trackOut{Sid: t.sid, ParticipantSid: p.sid, RoomSid: rm.sid, Name: t.name,
		DateCreated: ts(t.created), DateUpdated: ts(t.updated), Enabled: t.enabled, Kind: t.kind,
		URL: base + "/v1/Rooms/" + rm.sid + "/Participants/" + p.sid + "/" + kind + "/" + t.sid}
	if subscribed {
		ps := t.p.sid
		o.PublisherSid = &ps
	}
	return o
}

func (s *Server) listTracks(w http.ResponseWriter, r *http.Request, roomRef, pref string, subscribed bool) {
	l := parseList(r)
	if l.err != nil {
		s.writeErr(w, l.err)
		return
	}
	base := baseURL(r)
	rm, p, ok := s.lockLookup(w, r, roomRef, pref)
	if !ok {
		return
	}
	key := "published_tracks"
	if subscribed {
		key = "subscribed_tracks"
	}
	items := tracksLocked(rm, p, subscribed)
	writePageLocked(s, w, r, key, l, items, func(t *track) any { return renderTrack(base, rm, p, t, subscribed) })
}

func (s *Server) fetchTrack(w http.ResponseWriter, r *http.Request, roomRef, pref, sid string, subscribed bool) {
	s.respondIn(w, r, roomRef, pref, http.StatusOK, func(rm *room, p *participant) (any, *Error) {
		for _, t := range tracksLocked(rm, p, subscribed) {
			if t.sid == sid {
				return renderTrack(baseURL(r), rm, p, t, subscribed), nil
			}
		}
		return nil, notFound(r)
	})
}

type rulesOut struct {
	ParticipantSid *string         `json:"participant_sid,omitempty"`
	RoomSid        string          `json:"room_sid"`
	Rules          json.RawMessage `json:"rules"`
	DateCreated    *string         `json:"date_created"`
	DateUpdated    *string         `json:"date_updated"`
}

var defaultSubscribeRules = json.RawMessage(`[{"type":"include","all":true}]`)

func (s *Server) subscribeRulesOut(rm *room, p *participant) rulesOut {
	rules := p.subRules
	if rules == nil {
		rules = defaultSubscribeRules
	}
	ps := p.sid
	return rulesOut{ParticipantSid: &ps, RoomSid: rm.sid, Rules: rules,
		DateCreated: tsPtr(p.subRulesCreated), DateUpdated: tsPtr(p.subRulesUpdated)}
}

func (s *Server) fetchSubscribeRules(w http.ResponseWriter, r *http.Request, roomRef, pref string) {
	s.respondIn(w, r, roomRef, pref, http.StatusOK, func(rm *room, p *participant) (any, *Error) {
		return s.subscribeRulesOut(rm, p), nil
	})
}

func (s *Server) updateSubscribeRules(w http.ResponseWriter, r *http.Request, roomRef, pref string) {
	var rules json.RawMessage
	if v := r.PostForm.Get("Rules"); v != "" {
		var e *Error
		if rules, e = parseRules("Rules", v, true); e != nil {
			s.writeErr(w, e)
			return
		}
	}
	s.respondIn(w, r, roomRef, pref, http.StatusOK, func(rm *room, p *participant) (any, *Error) {
		now := s.clock.Now()
		if rules != nil {
			if p.subRulesCreated.IsZero() {
				p.subRulesCreated = now
			}
			p.subRules, p.subRulesUpdated = rules, now
		}
		return s.subscribeRulesOut(rm, p), nil
	})
}

func (s *Server) recordingRulesOut(rm *room) rulesOut {
	rules := rm.recRules
	if rules == nil {
		rules = json.RawMessage(`[]`)
	}
	var created *string
	if !rm.recRulesUpdated.IsZero() {
		created = tsPtr(rm.created)
	}
	return rulesOut{RoomSid: rm.sid, Rules: rules, DateCreated: created, DateUpdated: tsPtr(rm.recRulesUpdated)}
}

func (s *Server) fetchRecordingRules(w http.ResponseWriter, r *http.Request, roomRef string) {
	s.respondIn(w, r, roomRef, "", http.StatusOK, func(rm *room, _ *participant) (any, *Error) {
		return s.recordingRulesOut(rm), nil
	})
}

func (s *Server) updateRecordingRules(w http.ResponseWriter, r *http.Request, roomRef string) {
	var rules json.RawMessage
	if v := r.PostForm.Get("Rules"); v != "" {
		var e *Error
		if rules, e = parseRules("Rules", v, false); e != nil {
			s.writeErr(w, e)
			return
		}
	}
	s.respondIn(w, r, roomRef, "", http.StatusOK, func(rm *room, _ *participant) (any, *Error) {
		if rm.status != "in-progress" {
			return nil, errf(53112, "Recording rules can only be changed while the Room is in-progress")
		}
		if rules != nil {
			rm.recRules, rm.recRulesUpdated = rules, s.clock.Now()
		}
		return s.recordingRulesOut(rm), nil
	})
}
