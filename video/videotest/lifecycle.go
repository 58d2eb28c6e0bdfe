package videotest

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// roomSpec carries the validated parameters of a new room.
type roomSpec struct {
	name, typ, callback, cbMethod string
	maxParts, maxPartDur          int
	recordOnConnect, transcribe   bool
	codecs                        []string
	mediaRegion                   string
	audioOnly, largeRoom          bool
	emptyTimeout, unusedTimeout   int
	recRules                      json.RawMessage
	adHoc                         bool
}

// createRoomLocked checks the room quota and creates an in-progress room.
// Requires s.mu held.
func (s *Server) createRoomLocked(sp roomSpec) (*room, *Error) {
	if sp.name != "" {
		if _, ok := s.byName[sp.name]; ok {
			return nil, errf(53113, "Room exists: a Room named %q is in progress", sp.name)
		}
	}
	if lim := s.opts.ConcurrentRooms; lim >= 0 && s.roomsNow >= lim {
		s.raiseAlertLocked(53119, "error", s.accountSID, map[string]any{
			"resource": "rooms", "used": s.roomsNow, "limit": lim,
			"msg": "The concurrent Rooms quota was exceeded"})
		return nil, errf(53119, "The concurrent Rooms quota was exceeded (%d of %d Rooms in progress)", s.roomsNow, lim)
	}
	now := s.clock.Now()
	r := &room{
		sid: s.newSID("RM"), name: sp.name, status: "in-progress", typ: sp.typ,
		created: now, updated: now,
		callback: sp.callback, cbMethod: sp.cbMethod,
		maxParts: sp.maxParts, maxPartDur: sp.maxPartDur,
		recordOnConnect: sp.recordOnConnect, transcribeOnConnect: sp.transcribe,
		codecs: sp.codecs, mediaRegion: sp.mediaRegion, audioOnly: sp.audioOnly, largeRoom: sp.largeRoom,
		emptyTimeout: sp.emptyTimeout, unusedTimeout: sp.unusedTimeout, adHoc: sp.adHoc,
		partBySID: make(map[string]*participant), connected: make(map[string]*participant),
		recRules: sp.recRules,
	}
	if r.name == "" {
		r.name = r.sid // Twilio uses the SID as unique_name when none is given
	}
	if r.recRules != nil {
		r.recRulesUpdated = now
	}
	s.rooms[r.sid] = r
	s.roomOrder = append(s.roomOrder, r)
	s.byName[r.name] = r
	s.roomsNow++
	if s.roomsNow > s.roomsPeak {
		s.roomsPeak = s.roomsNow
	}
	s.st.roomsCreated.Add(1)
	s.log.Debug("videotest: room created", "room", r.sid, "name", r.name, "type", r.typ, "adhoc", r.adHoc, "rooms", s.roomsNow)
	s.checkWarnLocked(0, r.sid)
	if !r.adHoc {
		s.armRoomTimerLocked(r, time.Duration(r.unusedTimeout)*time.Minute)
	}
	s.roomEventLocked(r, "room-created", nil, nil)
	return r, nil
}

// armRoomTimerLocked (re)schedules the room's unused/empty timeout.
func (s *Server) armRoomTimerLocked(r *room, d time.Duration) {
	stopTimer(&r.timer)
	if s.closed {
		return
	}
	var t Timer
	t = s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || r.timer != t || r.status != "in-progress" || len(r.connected) > 0 {
			return
		}
		r.timer = nil
		s.completeRoomLocked(r)
	})
	r.timer = t
}

// completeRoomLocked ends an in-progress room: participants are disconnected,
// recordings completed, transcriptions stopped, room-ended sent.
func (s *Server) completeRoomLocked(r *room) {
	if r.status != "in-progress" {
		return
	}
	stopTimer(&r.timer)
	for _, p := range r.parts {
		if p.live() {
			s.disconnectLocked(p, false)
		}
	}
	now := s.clock.Now()
	r.status = "completed"
	r.ended, r.updated = now, now
	if s.byName[r.name] == r {
		delete(s.byName, r.name)
	}
	s.roomsNow--
	s.st.roomsEnded.Add(1)
	s.log.Debug("videotest: room ended", "room", r.sid, "rooms", s.roomsNow)
	s.rearmWarnLocked(0)
	for _, t := range r.transcriptions {
		if t.status == "started" {
			t.status, t.end, t.updated = "stopped", now, now
		}
	}
	for _, rec := range r.recordings {
		if rec.status == "processing" {
			rec.status, rec.completed = "completed", now
			s.recordingEventLocked(r, "recording-completed", rec)
		}
	}
	s.roomEventLocked(r, "room-ended", nil, nil)
}

// connectLocked joins identity to the room named or identified by ref.
func (s *Server) connectLocked(ref, identity string) (*participant, *Error) {
	if s.closed {
		return nil, newErr(53104, "Unable to connect to Room: server closed")
	}
	if identity == "" {
		return nil, newErr(53200, "Participant identity is invalid: empty")
	}
	if len(identity) > 128 {
		return nil, newErr(53201, "Participant identity is too long (max 128 characters)")
	}
	if ref == "" {
		return nil, newErr(53100, "Room name is invalid: empty")
	}
	if len(ref) > 128 {
		return nil, newErr(53101, "")
	}
	var r *room
	if isSID(ref, "RM") {
		r = s.rooms[ref]
		if r == nil {
			return nil, newErr(53106, "")
		}
		if r.status != "in-progress" {
			return nil, newErr(53118, "")
		}
	} else {
		r = s.byName[ref]
	}
	plim := s.opts.ConcurrentParticipants
	if r == nil {
		if !s.opts.AdHocRooms {
			return nil, errf(53103, "Unable to create Room %q: client-side Room creation is disabled", ref)
		}
		if plim >= 0 && s.partsNow >= plim {
			return nil, s.participantQuotaLocked(s.accountSID)
		}
		var err *Error
		r, err = s.createRoomLocked(roomSpec{
			name: ref, typ: s.opts.AdHocRoomType, callback: s.opts.AdHocStatusCallback,
			cbMethod: s.opts.AdHocStatusCallbackMethod, maxParts: maxParticipantsByType[s.opts.AdHocRoomType],
			maxPartDur: DefaultMaxParticipantDuration, mediaRegion: "gll",
			emptyTimeout: 0, unusedTimeout: 0, adHoc: true,
		})
		if err != nil {
			return nil, err
		}
	}
	old := r.connected[identity]
	if old == nil {
		if len(r.connected) >= r.maxParts {
			return nil, errf(53105, "Room contains too many Participants (max %d)", r.maxParts)
		}
		if plim >= 0 && s.partsNow >= plim {
			return nil, s.participantQuotaLocked(r.sid)
		}
	} else {
		// Duplicate identity: the earlier participant is disconnected (53205).
		s.disconnectLocked(old, false)
	}
	now := s.clock.Now()
	p := &participant{sid: s.newSID("PA"), identity: identity, status: "connected", room: r,
		created: now, updated: now, start: now}
	r.parts = append(r.parts, p)
	r.partBySID[p.sid] = p
	r.connected[identity] = p
	r.everJoined = true
	r.updated = now
	stopTimer(&r.timer)
	s.partsNow++
	if s.partsNow > s.partsPeak {
		s.partsPeak = s.partsNow
	}
	s.st.joins.Add(1)
	s.checkWarnLocked(1, r.sid)
	if !s.closed {
		var t Timer
		t = s.clock.AfterFunc(time.Duration(r.maxPartDur)*time.Second, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.closed && p.timer == t && p.live() {
				p.timer = nil
				s.disconnectLocked(p, true)
			}
		})
		p.timer = t
	}
	s.roomEventLocked(r, "participant-connected", p, nil)
	return p, nil
}

func (s *Server) participantQuotaLocked(resource string) *Error {
	lim := s.opts.ConcurrentParticipants
	s.raiseAlertLocked(53206, "error", resource, map[string]any{
		"resource": "participants", "used": s.partsNow, "limit": lim,
		"msg": "The Participant concurrency quota was exceeded"})
	return errf(53206, "The Participant concurrency quota was exceeded (%d of %d Participants connected)", s.partsNow, lim)
}

// disconnectLocked disconnects a connected participant. If settle is true an
// emptied room follows its end-of-life rule (ad-hoc: ends now; REST: empty
// room timeout); completeRoomLocked passes false.
func (s *Server) disconnectLocked(p *participant, settle bool) {
	if !p.live() {
		return
	}
	r := p.room
	now := s.clock.Now()
	stopTimer(&p.timer)
	p.status, p.end, p.updated = "disconnected", now, now
	if r.connected[p.identity] == p {
		delete(r.connected, p.identity)
	}
	s.partsNow--
	s.rearmWarnLocked(1)
	for _, t := range p.published {
		s.roomEventLocked(r, "track-removed", p, t)
	}
	s.roomEventLocked(r, "participant-disconnected", p, nil)
	if settle && r.status == "in-progress" && len(r.connected) == 0 {
		if r.adHoc {
			s.completeRoomLocked(r)
		} else {
			s.armRoomTimerLocked(r, time.Duration(r.emptyTimeout)*time.Minute)
		}
	}
}

// checkWarnLocked raises 53121 when rooms (kind 0) or participants (kind 1)
// reach 70% of their quota, once per upward crossing.
func (s *Server) checkWarnLocked(kind int, resource string) {
	used, lim, name := s.roomsNow, s.opts.ConcurrentRooms, "rooms"
	if kind == 1 {
		used, lim, name = s.partsNow, s.opts.ConcurrentParticipants, "participants"
	}
	if lim <= 0 || s.warned[kind] || used*10 < lim*7 {
		return
	}
	s.warned[kind] = true
	s.raiseAlertLocked(53121, "warning", resource, map[string]any{
		"resource": name, "used": used, "limit": lim,
		"msg": "Reached 70% of " + strings.TrimSuffix(name, "s") + " concurrency quota"})
}

// rearmWarnLocked re-arms the 53121 warning once usage falls below 70%.
func (s *Server) rearmWarnLocked(kind int) {
	used, lim := s.roomsNow, s.opts.ConcurrentRooms
	if kind == 1 {
		used, lim = s.partsNow, s.opts.ConcurrentParticipants
	}
	if s.warned[kind] && used*10 < lim*7 {
		s.warned[kind] = false
	}
}

// raiseAlertLocked records a Monitor alert and queues the Debugger webhook.
func (s *Server) raiseAlertLocked(code int, level, resource string, more map[string]any) {
	now := s.clock.Now()
	a := &alert{sid: s.newSID("NO"), code: itoa(code), level: level, resource: resource, created: now}
	q := url.Values{}
	if m, ok := more["msg"].(string); ok {
		q.Set("Msg", m)
	}
	q.Set("ErrorCode", a.code)
	q.Set("LogLevel", strings.ToUpper(level))
	a.text = q.Encode()
	payload, _ := marshal(map[string]any{
		"resource_sid": resource, "service_sid": nil, "error_code": a.code, "more_info": more,
	})
	a.vars = string(payload)
	s.log.Debug("videotest: alert", "code", code, "level", level, "resource", resource)
	s.alerts = append(s.alerts, a)
	s.alertBySID[a.sid] = a
	if s.opts.DebuggerWebhook == "" {
		return
	}
	form := url.Values{}
	form.Set("Sid", a.sid)
	form.Set("AccountSid", s.accountSID)
	if p := s.acct.parent; p != nil {
		form.Set("ParentAccountSid", p.accountSID)
	}
	form.Set("Timestamp", ts(now))
	form.Set("Level", strings.ToUpper(level))
	form.Set("PayloadType", "application/json")
	form.Set("Payload", string(payload))
	s.disp.enqueue(delivery{url: s.opts.DebuggerWebhook, method: "POST", params: form, debugger: true,
		idem: a.sid})
}

// roomEventLocked queues a status callback for the room, if it has one.
func (s *Server) roomEventLocked(r *room, event string, p *participant, t *track) {
	s.roomEventLockedWith(r, event, p, t, nil)
}

// roomEventLockedWith is roomEventLocked with extra fields added by extra.
func (s *Server) roomEventLockedWith(r *room, event string, p *participant, t *track, extra func(url.Values)) {
	seq := r.seq
	r.seq++
	if r.callback == "" {
		return
	}
	now := s.clock.Now()
	v := url.Values{}
	v.Set("AccountSid", s.accountSID)
	v.Set("RoomName", r.name)
	v.Set("RoomSid", r.sid)
	v.Set("RoomStatus", r.status)
	v.Set("RoomType", r.typ)
	v.Set("StatusCallbackEvent", event)
	v.Set("Timestamp", ts(now))
	v.Set("SequenceNumber", itoa(seq))
	if p != nil {
		v.Set("ParticipantSid", p.sid)
		v.Set("ParticipantStatus", p.status)
		v.Set("ParticipantIdentity", p.identity)
		if event == "participant-disconnected" {
			v.Set("ParticipantDuration", itoa(seconds(p.start, p.end)))
		}
	}
	if t != nil {
		v.Set("TrackSid", t.sid)
		v.Set("TrackKind", t.kind)
		v.Set("TrackName", t.name)
	}
	if event == "room-ended" {
		v.Set("RoomDuration", itoa(seconds(r.created, r.ended)))
	}
	if extra != nil {
		extra(v)
	}
	s.disp.enqueue(delivery{url: r.callback, method: r.cbMethod, params: v, key: r.callback})
}

// recordingEventLocked queues recording-started/-completed with the
// documented recording fields.
func (s *Server) recordingEventLocked(r *room, event string, rec *recording) {
	p := r.partBySID[rec.participantSid]
	var t *track
	if p != nil {
		for _, x := range p.published {
			if x.sid == rec.sourceSid {
				t = x
			}
		}
		if t == nil {
			t = &track{sid: rec.sourceSid, name: rec.trackName, kind: rec.typ}
		}
	}
	s.roomEventLockedWith(r, event, p, t, func(v url.Values) {
		v.Set("RecordingSid", rec.sid)
		v.Set("SourceSid", rec.sourceSid)
		v.Set("RecordingUri", "/v1/Recordings/"+rec.sid)
		v.Set("Container", rec.container)
		v.Set("Codec", rec.codec)
		v.Set("TrackName", rec.trackName)
		v.Set("Type", rec.typ)
		v.Set("OffsetFromTwilioVideoEpoch", strconv.FormatInt(rec.offset, 10))
		if event == "recording-completed" {
			d := seconds(rec.created, rec.completed)
			v.Set("Duration", itoa(d))
			v.Set("Size", strconv.FormatInt(int64(d)*16000, 10))
			v.Set("MediaUri", "/v1/Recordings/"+rec.sid+"/Media")
		}
	})
}

// findRoomLocked resolves a room SID (any status) or the UniqueName of an
// in-progress room.
func (s *Server) findRoomLocked(ref string) *room {
	if isSID(ref, "RM") {
		return s.rooms[ref]
	}
	return s.byName[ref]
}

// findParticipantLocked resolves a participant SID (any status) or the
// identity of a connected participant.
func findParticipantLocked(r *room, ref string) *participant {
	if isSID(ref, "PA") {
		return r.partBySID[ref]
	}
	return r.connected[ref]
}

// connectedLocked resolves a room (SID or UniqueName) and one of its
// connected participants (SID or identity) for the SDK-side methods.
// Errors: 53106 (room not found), 53204 (no such connected participant).
func (s *Server) connectedLocked(roomRef, partRef string) (*room, *participant, error) {
	r := s.findRoomLocked(roomRef)
	if r == nil {
		return nil, nil, newErr(53106, "")
	}
	p := findParticipantLocked(r, partRef)
	if p == nil || !p.live() {
		return nil, nil, newErr(53204, "")
	}
	return r, p, nil
}

// Connect joins identity to a room as a client SDK would and returns the new
// participant SID. roomNameOrSID is the UniqueName of an in-progress room or a
// room SID; with [Options.AdHocRooms] an unknown name creates an ad-hoc room.
// An identity already connected to the room replaces the earlier participant.
//
// Errors are *Error with codes 53100/53101 (bad room name), 53103 (unknown
// room, ad-hoc off), 53105 (room full), 53106 (no such room SID), 53118 (room
// completed), 53119 (room quota, ad-hoc creation), 53200/53201 (bad identity)
// and 53206 (participant quota).
func (s *Server) Connect(roomNameOrSID, identity string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.connectLocked(roomNameOrSID, identity)
	if err != nil {
		return "", err
	}
	return p.sid, nil
}

// Disconnect disconnects a connected participant, given by SID or identity,
// from the room given by SID or UniqueName. An ad-hoc room ends when its last
// participant leaves; a REST room starts its EmptyRoomTimeout.
// Errors: 53106 (room not found), 53204 (no such connected participant).
func (s *Server) Disconnect(roomSIDOrName, participantSIDOrIdentity string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p, err := s.connectedLocked(roomSIDOrName, participantSIDOrIdentity)
	if err != nil {
		return err
	}
	s.disconnectLocked(p, true)
	return nil
}

// Reconnecting puts a connected participant, given by SID or identity, in
// the "reconnecting" state, as Twilio shows a Participant whose client SDK
// lost its signaling connection and is trying to re-establish it
// (https://www.twilio.com/docs/video/reconnection-states-and-events). It
// still holds its place in the room and in the concurrent-participant quota
// until [Server.Reconnected] or [Server.Disconnect]. Room status callbacks
// have no reconnection event, so none is sent. Errors: 53106, 53204.
func (s *Server) Reconnecting(roomSIDOrName, participantSIDOrIdentity string) error {
	return s.setReconnecting(roomSIDOrName, participantSIDOrIdentity, true)
}

// Reconnected returns a reconnecting participant to "connected", as its
// SDK's successful reconnection would. Errors: 53106, 53204.
func (s *Server) Reconnected(roomSIDOrName, participantSIDOrIdentity string) error {
	return s.setReconnecting(roomSIDOrName, participantSIDOrIdentity, false)
}

func (s *Server) setReconnecting(roomRef, partRef string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p, err := s.connectedLocked(roomRef, partRef)
	if err != nil {
		return err
	}
	st := "connected"
	if on {
		st = "reconnecting"
	}
	if p.status != st {
		p.status, p.updated = st, s.clock.Now()
	}
	return nil
}

// CompleteRoom ends an in-progress room as POST Status=completed would,
// without an HTTP request. Errors: 53106, 53112 (not in progress).
func (s *Server) CompleteRoom(roomSIDOrName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.findRoomLocked(roomSIDOrName)
	if r == nil {
		return newErr(53106, "")
	}
	if r.status != "in-progress" {
		return newErr(53112, "")
	}
	s.completeRoomLocked(r)
	return nil
}

// PublishTrack makes a connected participant publish a track of kind "audio",
// "video" or "data" and returns its SID (MT…). Other connected participants
// subscribe to it; the room's recording rules (or RecordParticipantsOnConnect)
// decide whether a recording is started for audio and video tracks.
func (s *Server) PublishTrack(roomSIDOrName, participantSIDOrIdentity, kind, name string) (string, error) {
	switch kind {
	case "audio", "video", "data":
	default:
		return "", errf(20001, "Invalid track kind %q", kind)
	}
	if name == "" || len(name) > 128 {
		return "", errf(20001, "Invalid track name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, p, err := s.connectedLocked(roomSIDOrName, participantSIDOrIdentity)
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	t := &track{sid: s.newSID("MT"), name: name, kind: kind, enabled: true, created: now, updated: now, p: p}
	p.published = append(p.published, t)
	s.roomEventLocked(r, "track-added", p, t)
	if kind != "data" && s.recordsLocked(r, p, t) {
		rec := &recording{sid: s.newSID("RT"), status: "processing", typ: kind, trackName: name,
			sourceSid: t.sid, roomSid: r.sid, participantSid: p.sid, created: now,
			offset: now.Sub(r.created).Milliseconds()}
		if kind == "audio" {
			rec.container, rec.codec = "mka", "OPUS"
		} else {
			rec.container, rec.codec = "mkv", "VP8"
		}
		r.recordings = append(r.recordings, rec)
		s.recordings[rec.sid] = rec
		s.recOrder = append(s.recOrder, rec)
		s.recordingEventLocked(r, "recording-started", rec)
	}
	return t.sid, nil
}

// findTrackLocked resolves a connected participant's published track.
func (s *Server) findTrackLocked(roomRef, partRef, trackSID string) (*room, *participant, int, error) {
	r, p, err := s.connectedLocked(roomRef, partRef)
	if err != nil {
		return nil, nil, 0, err
	}
	for i, t := range p.published {
		if t.sid == trackSID {
			return r, p, i, nil
		}
	}
	return nil, nil, 0, errf(20404, "Track %s not found", trackSID)
}

// SetTrackEnabled pauses (false) or resumes (true) a published track, as a
// client SDK's track.disable()/enable() would, sending track-disabled or
// track-enabled. Errors: 53106, 53204, 20404 (no such track).
func (s *Server) SetTrackEnabled(roomSIDOrName, participantSIDOrIdentity, trackSID string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, p, i, err := s.findTrackLocked(roomSIDOrName, participantSIDOrIdentity, trackSID)
	if err != nil {
		return err
	}
	t := p.published[i]
	if t.enabled == enabled {
		return nil
	}
	t.enabled, t.updated = enabled, s.clock.Now()
	ev := "track-disabled"
	if enabled {
		ev = "track-enabled"
	}
	s.roomEventLocked(r, ev, p, t)
	return nil
}

// UnpublishTrack removes a published track, sending track-removed.
// Errors: 53106, 53204, 20404 (no such track).
func (s *Server) UnpublishTrack(roomSIDOrName, participantSIDOrIdentity, trackSID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, p, i, err := s.findTrackLocked(roomSIDOrName, participantSIDOrIdentity, trackSID)
	if err != nil {
		return err
	}
	t := p.published[i]
	p.published = append(p.published[:i:i], p.published[i+1:]...)
	s.roomEventLocked(r, "track-removed", p, t)
	return nil
}

// rule is one recording or subscribe rule as Twilio's JSON spells it.
type rule struct {
	Type      string `json:"type"`
	All       bool   `json:"all,omitempty"`
	Publisher string `json:"publisher,omitempty"`
	Track     string `json:"track,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Priority  string `json:"priority,omitempty"`
}

func (ru rule) matches(p *participant, t *track) bool {
	if ru.All {
		return true
	}
	ok := ru.Publisher != "" || ru.Track != "" || ru.Kind != ""
	if ru.Publisher != "" && ru.Publisher != p.identity && ru.Publisher != p.sid {
		ok = false
	}
	if ru.Track != "" && ru.Track != t.name && ru.Track != t.sid {
		ok = false
	}
	if ru.Kind != "" && ru.Kind != t.kind {
		ok = false
	}
	return ok
}

// recordsLocked decides whether a new track is recorded.
func (s *Server) recordsLocked(r *room, p *participant, t *track) bool {
	if r.recRules == nil {
		return r.recordOnConnect
	}
	var rules []rule
	_ = json.Unmarshal(r.recRules, &rules)
	inc := false
	for _, ru := range rules {
		if ru.matches(p, t) {
			if ru.Type == "exclude" {
				return false
			}
			inc = true
		}
	}
	return inc
}
