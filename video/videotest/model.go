package videotest

import (
	"encoding/json"
	"strconv"
	"time"
)

// room is one Video room. All fields are guarded by Server.mu.
type room struct {
	sid, name, status, typ  string
	created, updated, ended time.Time
	callback, cbMethod      string
	maxParts, maxPartDur    int
	recordOnConnect         bool
	transcribeOnConnect     bool
	codecs                  []string
	mediaRegion             string
	audioOnly, largeRoom    bool
	emptyTimeout            int // minutes
	unusedTimeout           int // minutes
	adHoc                   bool
	everJoined              bool

	parts     []*participant          // join order
	partBySID map[string]*participant // every participant ever
	connected map[string]*participant // connected, by identity
	timer     Timer                   // unused/empty room timeout
	seq       int                     // callback SequenceNumber

	recRules        json.RawMessage // JSON array of rules
	recRulesUpdated time.Time

	transcriptions []*transcription
	recordings     []*recording

	cache jsonCache // last JSON encoding, see Server.roomJSON
}

// jsonCache memoizes a room's JSON for one base URL and state.
type jsonCache struct {
	b              []byte
	base, status   string
	updated, ended time.Time
}

// participant is one connection to a room. Guarded by Server.mu.
type participant struct {
	sid, identity, status            string
	room                             *room
	created, updated                 time.Time
	start, end                       time.Time
	timer                            Timer // max participant duration
	published                        []*track
	subRules                         json.RawMessage
	subRulesCreated, subRulesUpdated time.Time
}

// live reports whether p is in its room: connected or reconnecting. A live
// participant counts toward the room's and the account's participant limits.
func (p *participant) live() bool { return p.status == "connected" || p.status == "reconnecting" }

// track is a published track. Guarded by Server.mu.
type track struct {
	sid, name, kind  string
	enabled          bool
	created, updated time.Time
	p                *participant
}

type recording struct {
	sid, status, typ, container, codec, trackName string
	sourceSid, roomSid, participantSid            string
	created                                       time.Time
	completed                                     time.Time
	offset                                        int64
	callback                                      string
	deleted                                       bool
}

type transcription struct {
	ttid, status, roomSid string
	created, updated      time.Time
	start, end            time.Time
	config                json.RawMessage
}

type composition struct {
	sid, roomSid, status, resolution, format string
	created, completed, deleted              time.Time
	audio, audioExcluded                     []string
	layout                                   json.RawMessage
	trim                                     bool
	callback, cbMethod                       string
	duration                                 int   // seconds of media, set when completed
	timer                                    Timer // next status step
}

type compositionHook struct {
	sid, friendlyName, resolution, format string
	enabled, trim                         bool
	created, updated                      time.Time
	audio, audioExcluded                  []string
	layout                                json.RawMessage
	callback, cbMethod                    string
}

type settings struct {
	friendlyName, awsCredentialsSid, awsS3URL, encryptionKeySid string
	awsStorage, encryption                                      bool
	created                                                     time.Time
}

type alert struct {
	sid, code, level, text, resource string
	created                          time.Time
	vars                             string
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsPtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := ts(t)
	return &s
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func seconds(a, b time.Time) int {
	d := b.Sub(a)
	if d < 0 {
		return 0
	}
	return int(d / time.Second)
}

func itoa(i int) string { return strconv.Itoa(i) }

var timeZero time.Time
