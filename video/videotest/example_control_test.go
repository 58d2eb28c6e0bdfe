package videotest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/videoquota/videoquota/video/videotest"
)

// Drive the emulator over HTTP alone, as a program in any language would:
// the fixed development credentials, a Room created through the Twilio API,
// and Participants joined through the control API until the quota refuses one.
func Example_controlAPI() {
	srv := videotest.NewServer(videotest.DevCredentials(videotest.Options{ConcurrentParticipants: 2}))
	defer srv.Close()
	post := func(path, contentType, body string) {
		req, _ := http.NewRequest("POST", srv.URL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.SetBasicAuth(videotest.DevAccountSID, videotest.DevAuthToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			fmt.Println(resp.StatusCode, string(b))
			return
		}
		fmt.Println(resp.StatusCode)
	}
	post("/v1/Rooms", "application/x-www-form-urlencoded", "UniqueName=demo")
	for _, who := range []string{"alice", "bob", "carol"} {
		post("/_videotest/rooms/demo/participants", "application/json", `{"identity":"`+who+`"}`)
	}
	// Output:
	// 201
	// 201
	// 201
	// 400 {"code":53206,"message":"The Participant concurrency quota was exceeded (2 of 2 Participants connected)","more_info":"https://www.twilio.com/docs/errors/53206","status":400}
}
