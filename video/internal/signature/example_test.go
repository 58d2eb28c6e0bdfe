package signature_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/videoquota/videoquota/video/internal/signature"
)

// Example checks a room-created status callback as a handler would: the URL
// configured at Twilio, the raw form body and the X-Twilio-Signature header.
func Example() {
	const authToken = "12345678901234567890123456789012"
	v, err := signature.New(authToken)
	if err != nil {
		panic(err)
	}
	callbackURL := "https://hooks.example.com/twilio/video/status"
	body := []byte("RoomSid=RM123&StatusCallbackEvent=room-created&RoomName=Daily+Standup")

	// What Twilio sends: the URL, then each parameter sorted by name.
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(callbackURL + "RoomNameDaily StandupRoomSidRM123StatusCallbackEventroom-created"))
	header := base64.StdEncoding.EncodeToString(mac.Sum(nil))

	form, err := v.ValidateForm(callbackURL, body, header)
	fmt.Println(form.Get("StatusCallbackEvent"), form.Get("RoomName"), err)

	// The same request arriving with the explicit default port.
	_, err = v.ValidateForm("https://hooks.example.com:443/twilio/video/status", body, header)
	fmt.Println(err)

	// A forged value.
	_, err = v.ValidateForm(callbackURL, []byte("RoomSid=RM999&StatusCallbackEvent=room-created&RoomName=Daily+Standup"), header)
	fmt.Println(errors.Is(err, signature.ErrMismatch))

	// Far too many parameters: rejected before any parsing or HMAC.
	big := make([]byte, 0, 4000)
	for range 1000 {
		big = append(big, "a=1&"...)
	}
	_, err = v.ValidateForm(callbackURL, big, header)
	var le *signature.LimitError
	fmt.Println(errors.As(err, &le), le.Limit, le.Max)
	// Output:
	// room-created Daily Standup <nil>
	// <nil>
	// true
	// true params 256
}
