package video_test

import (
	"context"
	"reflect"
	"testing"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/internal/apimap"
	"github.com/videoquota/videoquota/video/videotest"
)

// TestEveryWriteClassified: every method of twilio-go's ApiService is
// classified (the generator refuses the others), and every one that
// creates, updates or deletes Rooms or Participants has a case in
// TestSlotChangingMethods.
func TestEveryWriteClassified(t *testing.T) {
	api := reflect.TypeOf((*openapi.ApiService)(nil))
	for i := 0; i < api.NumMethod(); i++ {
		name := api.Method(i).Name
		if name == "RequestHandler" {
			continue
		}
		e := apimap.Classify(name)
		if e == apimap.Unknown {
			t.Errorf("%s is not classified in video/internal/apimap", name)
		}
		if _, ok := slotChanging[name]; e.ChangesSlots() && !ok {
			t.Errorf("%s %s but TestSlotChangingMethods has no case for it", name, e)
		}
	}
}

// slotChanging drives each method that changes Rooms or Participants on an
// in-progress Room (and a connected Participant held by the Client) and
// returns the change it should make to the ledger's Rooms and Participants.
var slotChanging = map[string]func(ctx context.Context, vq *video.Client, roomSID, partSID string) (rooms, parts int, err error){
	"CreateRoom": func(ctx context.Context, vq *video.Client, _, _ string) (int, int, error) {
		_, err := vq.CreateRoom(ctx, room(""))
		return 1, 0, err
	},
	"CreateRoomWithMetadata": func(ctx context.Context, vq *video.Client, _, _ string) (int, int, error) {
		_, err := vq.CreateRoomWithMetadata(ctx, room(""))
		return 1, 0, err
	},
	"UpdateRoom": func(ctx context.Context, vq *video.Client, rm, _ string) (int, int, error) {
		_, err := vq.UpdateRoom(ctx, rm, completed())
		return -1, -1, err // the Room and the Participant it had
	},
	"UpdateRoomWithMetadata": func(ctx context.Context, vq *video.Client, rm, _ string) (int, int, error) {
		_, err := vq.UpdateRoomWithMetadata(ctx, rm, completed())
		return -1, -1, err
	},
	"UpdateRoomParticipant": func(ctx context.Context, vq *video.Client, rm, pa string) (int, int, error) {
		_, err := vq.UpdateRoomParticipant(ctx, rm, pa, (&openapi.UpdateRoomParticipantParams{}).SetStatus("disconnected"))
		return 0, -1, err
	},
	"UpdateRoomParticipantWithMetadata": func(ctx context.Context, vq *video.Client, rm, pa string) (int, int, error) {
		_, err := vq.UpdateRoomParticipantWithMetadata(ctx, rm, pa, (&openapi.UpdateRoomParticipantParams{}).SetStatus("disconnected"))
		return 0, -1, err
	},
}

// TestSlotChangingMethods: each method that creates, updates or deletes
// Rooms or Participants moves the ledger as Twilio's state moves.
func TestSlotChangingMethods(t *testing.T) {
	t.Parallel()
	for name, do := range slotChanging {
		t.Run(name, func(t *testing.T) {
			srv, vq := setup(t, videotest.Options{})
			ctx := context.Background()
			r, err := vq.CreateRoom(ctx, room("effects"))
			if err != nil {
				t.Fatal(err)
			}
			psid, err := srv.Connect(*r.Sid, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := vq.HoldParticipant(ctx, *r.Sid, psid); err != nil {
				t.Fatal(err)
			}
			rooms0, parts0 := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants)
			dr, dp, err := do(ctx, vq, *r.Sid, psid)
			if err != nil {
				t.Fatal(err)
			}
			rooms, parts := mustUsed(t, vq, quota.Rooms), mustUsed(t, vq, quota.Participants)
			if rooms-rooms0 != dr || parts-parts0 != dp {
				t.Fatalf("ledger moved by %d Rooms and %d Participants; want %d and %d", rooms-rooms0, parts-parts0, dr, dp)
			}
			st := srv.Stats()
			if st.RoomsNow != rooms || st.ParticipantsNow != parts {
				t.Fatalf("ledger holds %d Rooms and %d Participants; the emulator has %d and %d",
					rooms, parts, st.RoomsNow, st.ParticipantsNow)
			}
		})
	}
}
