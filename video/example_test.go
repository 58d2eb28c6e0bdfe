package video_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video"
	"github.com/videoquota/videoquota/video/videotest"
)

// The Client replaces twilio-go's VideoV1 service: the same methods, with a
// context first. Here it talks to an embedded emulator instead of Twilio.
func Example() {
	srv := videotest.NewServer(videotest.Options{})
	defer srv.Close()

	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
	if err != nil {
		log.Fatal(err)
	}
	defer vq.Close()

	ctx := context.Background()
	room, err := vq.CreateRoom(ctx, (&openapi.CreateRoomParams{}).SetUniqueName("daily-standup"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*room.UniqueName, *room.Status)

	u := vq.Usage()
	fmt.Printf("rooms: %d of %d\n", u.Rooms.Used, u.Rooms.Limit)

	if _, err := vq.UpdateRoom(ctx, *room.Sid, (&openapi.UpdateRoomParams{}).SetStatus("completed")); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("rooms after completing it: %d\n", vq.Usage().Rooms.Used)
	// Output:
	// daily-standup in-progress
	// rooms: 1 of 10000
	// rooms after completing it: 0
}

// When the account's concurrent Rooms are used up, CreateRoom refuses locally
// and sends nothing to Twilio.
func ExampleClient_CreateRoom_quotaExceeded() {
	srv := videotest.NewServer(videotest.Options{})
	defer srv.Close()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithLimits(quota.Limits{ConcurrentRooms: 1}))
	if err != nil {
		log.Fatal(err)
	}
	defer vq.Close()

	ctx := context.Background()
	if _, err := vq.CreateRoom(ctx, nil); err != nil {
		log.Fatal(err)
	}
	_, err = vq.CreateRoom(ctx, nil)
	var ex *quota.ExceededError
	if errors.As(err, &ex) {
		fmt.Println(errors.Is(err, quota.ErrExceeded), ex.Resource, ex.Used, ex.Limit, ex.Code, ex.Source)
	}
	fmt.Println("requests Twilio saw:", srv.Stats().Writes)
	// Output:
	// true rooms 1 1 53119 local
	// requests Twilio saw: 1
}

// Threshold hooks fire as usage crosses their levels, like Twilio's warning
// 53121 at 70%, on the ledger's goroutine.
func ExampleWithThresholds() {
	srv := videotest.NewServer(videotest.Options{})
	defer srv.Close()
	var mu sync.Mutex
	var events []quota.Event
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithLimits(quota.Limits{ConcurrentRooms: 10}),
		video.WithThresholds(func(e quota.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}, 0.7))
	if err != nil {
		log.Fatal(err)
	}
	for range 7 {
		if _, err := vq.CreateRoom(context.Background(), nil); err != nil {
			log.Fatal(err)
		}
	}
	vq.Close() // delivers the queued events
	for _, e := range events {
		fmt.Printf("%s at %d of %d: level %.1f rising %v (code %d)\n", e.Resource, e.Used, e.Limit, e.Level, e.Rising, e.Code)
	}
	// Output:
	// rooms at 7 of 10: level 0.7 rising true (code 53121)
}

// Errors from Twilio keep twilio-go's type inside the Client's own.
func ExampleClient_FetchRoom_twilioError() {
	srv := videotest.NewServer(videotest.Options{})
	defer srv.Close()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()))
	if err != nil {
		log.Fatal(err)
	}
	defer vq.Close()

	_, err = vq.FetchRoom(context.Background(), "no-such-room")
	var tw *client.TwilioRestError
	if errors.As(err, &tw) {
		fmt.Println("Twilio answered", tw.Status)
	}
	_, err = vq.FetchRoom(context.Background(), "RM-not-a-sid/")
	var ve *video.ValidationError
	if errors.As(err, &ve) {
		fmt.Println("refused before sending:", ve.Param)
	}
	// Output:
	// Twilio answered 404
	// refused before sending: Sid
}

// A call can wait for a free slot instead of failing, bounded by its context.
func ExampleWaitForCapacity() {
	srv := videotest.NewServer(videotest.Options{})
	defer srv.Close()
	vq, err := video.New(srv.AccountSID(), srv.AuthToken(), video.WithBaseURL(srv.URL()),
		video.WithLimits(quota.Limits{ConcurrentRooms: 1}))
	if err != nil {
		log.Fatal(err)
	}
	defer vq.Close()
	ctx := context.Background()
	first, err := vq.CreateRoom(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := vq.CreateRoom(video.WaitForCapacity(ctx), nil) // waits for the first Room to end
		done <- err
	}()
	if _, err := vq.UpdateRoom(ctx, *first.Sid, (&openapi.UpdateRoomParams{}).SetStatus("completed")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("second room:", <-done)
	// Output:
	// second room: <nil>
}
