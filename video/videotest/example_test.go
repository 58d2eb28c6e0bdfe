package videotest_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/video/videotest"
)

// Point twilio-go at the emulator, hit the concurrent-room quota and watch an
// empty room time out under a fake clock.
func Example() {
	clock := videotest.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := videotest.NewServer(videotest.Options{ConcurrentRooms: 1, Clock: clock})
	defer srv.Close()
	video := openapi.NewApiServiceWithClient(srv.Client())

	room, err := video.CreateRoom(&openapi.CreateRoomParams{UniqueName: ptr("standup")})
	if err != nil {
		panic(err)
	}
	fmt.Println("created:", *room.UniqueName, *room.Status, room.MaxParticipants)

	_, err = video.CreateRoom(&openapi.CreateRoomParams{})
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		fmt.Println("second room:", te.Code, te.Status)
	}

	if _, err := srv.Connect("standup", "alice"); err != nil {
		panic(err)
	}
	_ = srv.Disconnect("standup", "alice")
	clock.Advance(5 * time.Minute) // EmptyRoomTimeout
	room, _ = video.FetchRoom(*room.Sid)
	fmt.Println("after 5 minutes empty:", *room.Status, *room.Duration)

	st := srv.Stats()
	fmt.Println("writes:", st.Writes, "reads:", st.Reads, "rooms peak:", st.RoomsPeak)
	// Output:
	// created: standup in-progress 50
	// second room: 53119 400
	// after 5 minutes empty: completed 300
	// writes: 2 reads: 1 rooms peak: 1
}

// A burst of writes past the 20/s quota gets Twilio's 20429.
func ExampleOptions_rateLimit() {
	srv := videotest.NewServer(videotest.Options{Clock: videotest.NewFakeClock(time.Unix(0, 0))})
	defer srv.Close()
	video := openapi.NewApiServiceWithClient(srv.Client())
	ok, throttled := 0, 0
	for i := 0; i < 25; i++ {
		if _, err := video.CreateRoom(&openapi.CreateRoomParams{}); err != nil {
			throttled++
		} else {
			ok++
		}
	}
	fmt.Println(ok, "created,", throttled, "throttled;", srv.Stats().Throttled, "429s sent")
	// Output: 20 created, 5 throttled; 5 429s sent
}
