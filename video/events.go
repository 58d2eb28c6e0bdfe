package video

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/videoquota/videoquota/video/internal/signature"
)

// Room status callback event names (StatusCallbackEvent), as documented at
// https://www.twilio.com/docs/video/api/status-callbacks. Twilio may add
// others; [RoomEvent.Event] carries the name as received.
const (
	EventRoomCreated             = "room-created"
	EventRoomEnded               = "room-ended"
	EventParticipantConnected    = "participant-connected"
	EventParticipantDisconnected = "participant-disconnected"
	EventTrackAdded              = "track-added"
	EventTrackRemoved            = "track-removed"
	EventTrackEnabled            = "track-enabled"
	EventTrackDisabled           = "track-disabled"
	EventRecordingStarted        = "recording-started"
	EventRecordingCompleted      = "recording-completed"
	EventRecordingFailed         = "recording-failed"
)

// RoomEvent is one Room status callback, every documented form parameter
// typed. Numbers and times Twilio did not send are zero.
type RoomEvent struct {
	Event          string    // StatusCallbackEvent, e.g. "participant-connected"
	AccountSID     string    // AccountSid
	RoomSID        string    // RoomSid (RM…)
	RoomName       string    // RoomName: the Room's UniqueName
	RoomStatus     string    // RoomStatus: "in-progress", "completed" or "failed"
	RoomType       string    // RoomType, e.g. "group"
	Timestamp      time.Time // Timestamp: when the event happened (UTC); the order of events
	SequenceNumber int       // SequenceNumber: an internal field, not an order (Twilio's words)

	// Participant and track events.
	ParticipantSID      string        // ParticipantSid (PA…)
	ParticipantStatus   string        // ParticipantStatus: "connected" or "disconnected"
	ParticipantIdentity string        // ParticipantIdentity, from the access token
	ParticipantDuration time.Duration // ParticipantDuration (participant-disconnected only)
	RoomDuration        time.Duration // RoomDuration (room-ended only)

	// Track events.
	TrackSID  string // TrackSid (MT…)
	TrackKind string // TrackKind: "audio", "video" or "data"
	TrackName string // TrackName

	// Recording events.
	RecordingSID               string        // RecordingSid (RT…)
	SourceSID                  string        // SourceSid: the recorded Track (MT…)
	RecordingURI               string        // RecordingUri
	MediaURI                   string        // MediaUri (recording-completed only)
	Duration                   time.Duration // Duration of the recording (recording-completed only)
	Size                       int64         // Size in bytes (recording-completed only)
	MediaExternalLocation      string        // MediaExternalLocation (recording-completed only)
	Container                  string        // Container: "mka" or "mkv"
	Codec                      string        // Codec: "PCMU", "OPUS", "VP8" or "H264"
	Type                       string        // Type: "audio" or "video"
	OffsetFromTwilioVideoEpoch int64         // OffsetFromTwilioVideoEpoch, milliseconds
	FailedOperation            string        // FailedOperation (recording-failed only)

	// Params holds every parameter received, including any Twilio added
	// after this library was written. The status callback handler fills it
	// for [OnRoomEvent] funcs only: without them it is nil.
	Params url.Values

	// Stale is true when a later event for the same Room or Participant had
	// already been applied, so this one did not change the ledger.
	Stale bool

	rawTimestamp, rawSeq string // Timestamp and SequenceNumber as received (duplicate detection)
}

// ledgerEvent reports whether e is one of the four events that move the ledger.
func (e *RoomEvent) ledgerEvent() bool {
	switch e.Event {
	case EventRoomCreated, EventRoomEnded, EventParticipantConnected, EventParticipantDisconnected:
		return true
	}
	return false
}

// participantEvent reports whether e names a Participant (participant and track events).
func (e *RoomEvent) participantEvent() bool {
	return strings.HasPrefix(e.Event, "participant-") || strings.HasPrefix(e.Event, "track-")
}

// FieldError is a status callback or Debugger event whose parameter is
// missing or malformed. The handlers answer it with 400 and change nothing.
type FieldError struct {
	Field  string // the form parameter, e.g. "RoomSid"
	Reason string
}

// Error names the parameter and what is wrong with it.
func (e *FieldError) Error() string {
	return fmt.Sprintf("video: callback parameter %s: %s", e.Field, e.Reason)
}

// parseRoomEvent types the parameters of a status callback. The four events
// that move the ledger must carry a well-formed RoomSid and Timestamp, and
// participant events a ParticipantSid; for other events malformed optional
// numbers are an error too, while missing fields stay zero.
func parseRoomEvent(v url.Values) (RoomEvent, error) {
	var e RoomEvent
	var raw rawRoomEvent
	for name, vs := range v {
		if len(vs) > 0 {
			e.setParam(&raw, name, vs[0])
		}
	}
	e.Params = v
	return e, e.typeParams(&raw)
}

// parseRoomEventForm is parseRoomEvent reading a validated form body: one
// pass over its fields, the first value of a repeated name winning (as
// url.Values.Get). Params is built only when params is true (someone will
// read it: [OnRoomEvent] funcs), as it costs more than the rest together.
func parseRoomEventForm(f *signature.Form, params bool) (RoomEvent, error) {
	var e RoomEvent
	var raw rawRoomEvent
	for i := range f.Len() {
		name, value := f.Field(i)
		e.setParam(&raw, name, value)
	}
	if params {
		e.Params = f.Values()
	}
	return e, e.typeParams(&raw)
}

// rawRoomEvent holds a status callback's numeric and time parameters as
// received, and which parameters were set.
type rawRoomEvent struct {
	set                                              uint32 // a bit per parameter, numbered in setParam
	timestamp, seq, partDur, roomDur, dur, size, off string
}

// setParam sets the field of parameter name to value, unless an earlier
// value of name was set.
func (e *RoomEvent) setParam(raw *rawRoomEvent, name, value string) {
	var dst *string
	var bit int
	switch name {
	case "StatusCallbackEvent":
		dst, bit = &e.Event, 0
	case "AccountSid":
		dst, bit = &e.AccountSID, 1
	case "RoomSid":
		dst, bit = &e.RoomSID, 2
	case "RoomName":
		dst, bit = &e.RoomName, 3
	case "RoomStatus":
		dst, bit = &e.RoomStatus, 4
	case "RoomType":
		dst, bit = &e.RoomType, 5
	case "ParticipantSid":
		dst, bit = &e.ParticipantSID, 6
	case "ParticipantStatus":
		dst, bit = &e.ParticipantStatus, 7
	case "ParticipantIdentity":
		dst, bit = &e.ParticipantIdentity, 8
	case "TrackSid":
		dst, bit = &e.TrackSID, 9
	case "TrackKind":
		dst, bit = &e.TrackKind, 10
	case "TrackName":
		dst, bit = &e.TrackName, 11
	case "RecordingSid":
		dst, bit = &e.RecordingSID, 12
	case "SourceSid":
		dst, bit = &e.SourceSID, 13
	case "RecordingUri":
		dst, bit = &e.RecordingURI, 14
	case "MediaUri":
		dst, bit = &e.MediaURI, 15
	case "MediaExternalLocation":
		dst, bit = &e.MediaExternalLocation, 16
	case "Container":
		dst, bit = &e.Container, 17
	case "Codec":
		dst, bit = &e.Codec, 18
	case "Type":
		dst, bit = &e.Type, 19
	case "FailedOperation":
		dst, bit = &e.FailedOperation, 20
	case "Timestamp":
		dst, bit = &raw.timestamp, 21
	case "SequenceNumber":
		dst, bit = &raw.seq, 22
	case "ParticipantDuration":
		dst, bit = &raw.partDur, 23
	case "RoomDuration":
		dst, bit = &raw.roomDur, 24
	case "Duration":
		dst, bit = &raw.dur, 25
	case "Size":
		dst, bit = &raw.size, 26
	case "OffsetFromTwilioVideoEpoch":
		dst, bit = &raw.off, 27
	default:
		return
	}
	if raw.set&(1<<bit) == 0 {
		raw.set |= 1 << bit
		*dst = value
	}
}

// typeParams checks and types the parameters setParam kept as received.
func (e *RoomEvent) typeParams(raw *rawRoomEvent) error {
	e.rawTimestamp, e.rawSeq = raw.timestamp, raw.seq
	if e.Event == "" {
		return &FieldError{Field: "StatusCallbackEvent", Reason: "missing"}
	}
	strict := e.ledgerEvent()
	if s := raw.timestamp; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return &FieldError{Field: "Timestamp", Reason: "not an ISO 8601 (RFC 3339) time"}
		}
		e.Timestamp = t.UTC()
	} else if strict {
		return &FieldError{Field: "Timestamp", Reason: "missing"}
	}
	if strict || e.RoomSID != "" {
		if !validSID("RM", e.RoomSID) {
			return &FieldError{Field: "RoomSid", Reason: "want RM followed by 32 hex digits"}
		}
	}
	if e.participantEvent() && (strict || e.ParticipantSID != "") {
		if !validSID("PA", e.ParticipantSID) {
			return &FieldError{Field: "ParticipantSid", Reason: "want PA followed by 32 hex digits"}
		}
	}
	const maxSeconds = int64(1<<63-1) / int64(time.Second)
	seq, err := paramInt("SequenceNumber", raw.seq, false, 1<<31-1)
	if err != nil {
		return err
	}
	e.SequenceNumber = int(seq)
	for _, d := range [...]struct {
		name, s string
		which   int
	}{{"ParticipantDuration", raw.partDur, 0}, {"RoomDuration", raw.roomDur, 1}, {"Duration", raw.dur, 2}} {
		x, err := paramInt(d.name, d.s, false, maxSeconds)
		if err != nil {
			return err
		}
		switch dur := time.Duration(x) * time.Second; d.which {
		case 0:
			e.ParticipantDuration = dur
		case 1:
			e.RoomDuration = dur
		default:
			e.Duration = dur
		}
	}
	if e.Size, err = paramInt("Size", raw.size, false, 1<<63-1); err != nil {
		return err
	}
	if e.OffsetFromTwilioVideoEpoch, err = paramInt("OffsetFromTwilioVideoEpoch", raw.off, true, 1<<63-1); err != nil {
		return err
	}
	return nil
}

// paramInt reads the integer parameter name from s ("" is 0): at most max,
// and not negative unless neg.
func paramInt(name, s string, neg bool, max int64) (int64, error) {
	if s == "" {
		return 0, nil
	}
	x, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (x < 0 && !neg) || x > max {
		return 0, &FieldError{Field: name, Reason: fmt.Sprintf("not an integer in range (got %q)", shorten(s))}
	}
	return x, nil
}

// AlertEvent is one Twilio Debugger event (the Console Debugger webhook) or
// one Monitor alert (the poller), with its payload decoded.
type AlertEvent struct {
	SID              string    // Sid (NO…)
	AccountSID       string    // AccountSid
	ParentAccountSID string    // ParentAccountSid, for subaccounts only
	Timestamp        time.Time // Timestamp: when it happened
	Level            string    // Level, e.g. "ERROR" or "WARNING"
	PayloadType      string    // PayloadType, "application/json"
	Code             int       // the Twilio error or warning code, e.g. 53121
	ResourceSID      string    // Payload resource_sid
	ServiceSID       string    // Payload service_sid, empty when null
	// MoreInfo is the payload's more_info object as sent (product-specific),
	// nil when absent.
	MoreInfo json.RawMessage
	// Webhook is the payload's webhook object (request and response), nil when absent.
	Webhook json.RawMessage
	// Text is the Monitor alert's alert_text (polled alerts only).
	Text string
	// Polled is true for an alert read from the Monitor Alerts API.
	Polled bool
	// Stale is true for an alert whose Timestamp is older than
	// [DefaultCallbackRetention] (a replayed request: Twilio's signature does
	// not cover time): it is passed on but changes nothing.
	Stale bool
}

// alertPayload is the JSON inside a Debugger event's Payload parameter.
type alertPayload struct {
	ResourceSID *string         `json:"resource_sid"`
	ServiceSID  *string         `json:"service_sid"`
	ErrorCode   json.RawMessage `json:"error_code"`
	MoreInfo    json.RawMessage `json:"more_info"`
	Webhook     json.RawMessage `json:"webhook"`
}

// maxPayload bounds the Payload parameter of a Debugger event.
const maxPayload = 32 << 10

// parseAlertEvent types the parameters of a Debugger webhook. Sid and a
// Payload holding a numeric error_code are required.
func parseAlertEvent(v url.Values) (AlertEvent, error) {
	e := AlertEvent{
		SID:              v.Get("Sid"),
		AccountSID:       v.Get("AccountSid"),
		ParentAccountSID: v.Get("ParentAccountSid"),
		Level:            v.Get("Level"),
		PayloadType:      v.Get("PayloadType"),
	}
	if !validSID("NO", e.SID) {
		return e, &FieldError{Field: "Sid", Reason: "want NO followed by 32 hex digits"}
	}
	if s := v.Get("Timestamp"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return e, &FieldError{Field: "Timestamp", Reason: "not an ISO 8601 (RFC 3339) time"}
		}
		e.Timestamp = t.UTC()
	}
	raw := v.Get("Payload")
	if raw == "" {
		return e, &FieldError{Field: "Payload", Reason: "missing"}
	}
	if len(raw) > maxPayload {
		return e, &FieldError{Field: "Payload", Reason: "too large"}
	}
	var p alertPayload
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return e, &FieldError{Field: "Payload", Reason: "not a JSON object"}
	}
	code, err := parseCode(p.ErrorCode)
	if err != nil {
		return e, &FieldError{Field: "Payload.error_code", Reason: err.Error()}
	}
	e.Code = code
	if p.ResourceSID != nil {
		e.ResourceSID = *p.ResourceSID
	}
	if p.ServiceSID != nil {
		e.ServiceSID = *p.ServiceSID
	}
	if len(p.MoreInfo) > 0 && string(p.MoreInfo) != "null" {
		e.MoreInfo = p.MoreInfo
	}
	if len(p.Webhook) > 0 && string(p.Webhook) != "null" {
		e.Webhook = p.Webhook
	}
	return e, nil
}

// parseCode reads error_code, a string ("53121") in Twilio's payloads, or a number.
func parseCode(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, fmt.Errorf("missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 || n > 99999 {
		return 0, fmt.Errorf("not a Twilio error code")
	}
	return n, nil
}

// alertResource reads more_info.resource ("rooms" or "participants") when
// Twilio (or the emulator) says which quota a 53121 is about.
func (e *AlertEvent) alertResource() string {
	if len(e.MoreInfo) == 0 {
		return ""
	}
	var m struct {
		Resource string `json:"resource"`
	}
	if json.Unmarshal(e.MoreInfo, &m) != nil {
		return ""
	}
	return strings.ToLower(m.Resource)
}
