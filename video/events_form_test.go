package video

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/videoquota/videoquota/video/internal/signature"
	"github.com/videoquota/videoquota/video/videotest"
)

// FuzzParseRoomEventForm: the handler's one-pass parse of a validated
// form body types an event exactly as parseRoomEvent does from the same
// parameters as url.Values (first value of a repeated name), and fails
// with the same error.
func FuzzParseRoomEventForm(f *testing.F) {
	for _, body := range []string{
		"StatusCallbackEvent=participant-connected&RoomSid=RM0123456789abcdef0123456789abcdef&ParticipantSid=PA0123456789abcdef0123456789abcdef&Timestamp=2026-11-26T10%3A00%3A00Z&SequenceNumber=3",
		"StatusCallbackEvent=room-ended&RoomSid=RM0123456789abcdef0123456789abcdef&Timestamp=2026-11-26T10:00:00Z&RoomDuration=61&RoomName=a&RoomName=b",
		"StatusCallbackEvent=recording-completed&Size=-1&Duration=x",
		"StatusCallbackEvent=track-added&Timestamp=yesterday",
		"RoomSid=&RoomSid=RM0123456789abcdef0123456789abcdef&StatusCallbackEvent=room-created&Timestamp=2026-11-26T10:00:00Z",
		"",
	} {
		f.Add(body)
	}
	const token, target = "12345678901234567890123456789012", "https://hooks.example.com/status"
	v, err := signature.New(token)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		q, err := url.ParseQuery(body)
		if err != nil || len(q) > signature.DefaultMaxParams {
			return
		}
		var form signature.Form
		if err := v.ValidateFormTo(target, []byte(body), videotest.Signature(token, target, q), &form); err != nil {
			return // a form the validator refuses never reaches the parser
		}
		want, wantErr := parseRoomEvent(q)
		got, gotErr := parseRoomEventForm(&form, true)
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("%q: error %v, want %v", body, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: event\n%+v\nwant\n%+v", body, got, want)
		}
	})
}
