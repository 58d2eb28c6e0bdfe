// Package apimap classifies the methods of twilio-go's Video v1
// *openapi.ApiService by what they do to the Rooms and Participants a
// video.Client's ledger counts. The generator (video/internal/gen) emits a
// method only when this table classifies it, and the video tests walk the
// same table, so that a twilio-go upgrade adding a method that creates,
// updates or deletes Rooms or Participants stops the generator instead of
// becoming a pass-through that bypasses the ledger.
package apimap

import "strings"

// Effect is what a method does to the Rooms and Participants the ledger counts.
type Effect int

const (
	// Unknown: the table does not classify the method; the generator refuses it.
	Unknown Effect = iota
	// None: the method creates, updates and deletes no Room or Participant
	// (compositions, recordings, a Room's rules, reads of other resources).
	None
	// Reads: the method reads Rooms or Participants; a result showing one
	// ended corrects the ledger.
	Reads
	// CreatesRoom: the method takes a Room slot; it must be hand-written.
	CreatesRoom
	// UpdatesRoom: the method may complete a Room, releasing its slot and
	// its Participants'.
	UpdatesRoom
	// UpdatesParticipant: the method may disconnect a Participant,
	// releasing its slot.
	UpdatesParticipant
)

// ChangesSlots reports whether e creates, updates or deletes a Room or
// Participant.
func (e Effect) ChangesSlots() bool {
	return e == CreatesRoom || e == UpdatesRoom || e == UpdatesParticipant
}

func (e Effect) String() string {
	switch e {
	case None:
		return "none"
	case Reads:
		return "reads"
	case CreatesRoom:
		return "creates-room"
	case UpdatesRoom:
		return "updates-room"
	case UpdatesParticipant:
		return "updates-participant"
	}
	return "unknown"
}

// writes classifies every write (Create, Update, Delete) of the Video v1 API
// by its base name (see [Base]). Twilio's API reference for each resource
// says what it changes (https://www.twilio.com/docs/video/api).
var writes = map[string]Effect{
	"CreateRoom":                         CreatesRoom,
	"UpdateRoom":                         UpdatesRoom, // Status=completed ends the Room
	"UpdateRoomParticipant":              UpdatesParticipant,
	"UpdateRoomParticipantAnonymize":     None, // rewrites a disconnected Participant's name
	"UpdateRoomParticipantSubscribeRule": None,
	"UpdateRoomRecordingRule":            None,
	"CreateRoomTranscriptions":           None,
	"UpdateRoomTranscriptions":           None,
	"DeleteRoomRecording":                None,
	"CreateComposition":                  None,
	"DeleteComposition":                  None,
	"CreateCompositionHook":              None,
	"UpdateCompositionHook":              None,
	"DeleteCompositionHook":              None,
	"CreateCompositionSettings":          None,
	"CreateRecordingSettings":            None,
	"DeleteRecording":                    None,
}

// slotReads are the resources whose reads show Rooms and Participants.
var slotReads = map[string]bool{"Room": true, "RoomParticipant": true}

// variants are the suffixes of a method's variants with the same effect.
var variants = []string{"WithMetadata"}

// Base returns name without a known variant suffix: "UpdateRoomWithMetadata"
// is "UpdateRoom".
func Base(name string) string {
	for _, v := range variants {
		if b, ok := strings.CutSuffix(name, v); ok {
			return b
		}
	}
	return name
}

// Verb splits name's base into its leading verb (Create, Fetch, Update,
// Delete, List, Page, Stream) and the resource after it; verb is "" when
// name starts with none of them.
func Verb(name string) (verb, resource string) {
	base := Base(name)
	for _, v := range []string{"Create", "Fetch", "Update", "Delete", "List", "Page", "Stream"} {
		if r, ok := strings.CutPrefix(base, v); ok {
			return v, r
		}
	}
	return "", base
}

// Classify returns the effect of the ApiService method name: Reads or None
// for a read (Fetch, List, Page, Stream), the table's entry for a write, and
// Unknown for a write the table does not list or a verb it has no rule for.
func Classify(name string) Effect {
	verb, resource := Verb(name)
	switch verb {
	case "Fetch", "List", "Page", "Stream":
		if slotReads[resource] {
			return Reads
		}
		return None
	case "Create", "Update", "Delete":
		if e, ok := writes[Base(name)]; ok {
			return e
		}
	}
	return Unknown
}
