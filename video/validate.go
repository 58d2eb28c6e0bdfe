package video

import (
	"fmt"
	"strings"

	openapi "github.com/twilio/twilio-go/rest/video/v1"
)

// Limits Twilio enforces on request parameters (https://www.twilio.com/docs/video/programmable-video-limits,
// https://www.twilio.com/docs/video/api/rooms-resource).
const (
	// MaxNameLength is the longest Room UniqueName or Participant identity (128 characters).
	MaxNameLength = 128
	// MinRoomTimeout and MaxRoomTimeout bound EmptyRoomTimeout and UnusedRoomTimeout, in minutes.
	MinRoomTimeout, MaxRoomTimeout = 1, 60
	// MinParticipantDuration and MaxParticipantDuration bound MaxParticipantDuration, in seconds (error 53123).
	MinParticipantDuration, MaxParticipantDuration = 600, 86400
)

// maxParticipantsByType is the largest MaxParticipants per Room type (error 53107).
var maxParticipantsByType = map[string]int{
	"group":        50,
	"group-small":  4,
	"peer-to-peer": 10,
	"go":           2,
}

// ValidationError is a parameter Twilio would reject, caught before any
// request was sent.
type ValidationError struct {
	Method string // the Client method, e.g. "CreateRoom"
	Param  string // the parameter, e.g. "UniqueName" or "MaxParticipants"
	Value  string // the offending value, shortened; empty when it may hold a secret (a callback URL)
	Reason string
}

// Error names the method, the parameter and what is wrong.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("video: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteString(": ")
	}
	b.WriteString("invalid ")
	b.WriteString(e.Param)
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	b.WriteString(" (no request sent)")
	return b.String()
}

// shorten keeps error messages small when a value is huge.
func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// checkSID requires s to be prefix followed by 32 hex digits.
func checkSID(param, prefix, s string) error {
	if validSID(prefix, s) {
		return nil
	}
	return &ValidationError{Param: param, Value: shorten(s),
		Reason: fmt.Sprintf("want a SID: %q followed by 32 hex digits", prefix)}
}

// checkName validates a name usable in place of a SID in a URL path segment.
func checkName(param, s string) error {
	switch {
	case s == "":
		return &ValidationError{Param: param, Reason: "empty"}
	case len([]rune(s)) > MaxNameLength:
		return &ValidationError{Param: param, Value: shorten(s),
			Reason: fmt.Sprintf("%d characters, Twilio allows at most %d", len([]rune(s)), MaxNameLength)}
	case strings.ContainsAny(s, "/?#"):
		return &ValidationError{Param: param, Value: shorten(s),
			Reason: "contains a reserved character ('/', '?' or '#') and cannot address a resource in a URL"}
	}
	return nil
}

// checkSIDOrName accepts a SID with prefix, or a name Twilio accepts in its
// place (a Room UniqueName, a Participant identity). A value shaped like a SID
// (prefix and 34 characters) must be a valid one.
func checkSIDOrName(param, prefix, s string) error {
	if validSID(prefix, s) {
		return nil
	}
	if len(s) == 34 && strings.HasPrefix(s, prefix) {
		return checkSID(param, prefix, s)
	}
	return checkName(param, s)
}

// checkMethod validates a callback HTTP method.
func checkMethod(param string, m *string) error {
	if m == nil {
		return nil
	}
	switch strings.ToUpper(*m) {
	case "GET", "POST":
		return nil
	}
	return &ValidationError{Param: param, Value: shorten(*m), Reason: "want GET or POST"}
}

func checkRange(param string, v *int, lo, hi int, unit string) error {
	if v == nil || (*v >= lo && *v <= hi) {
		return nil
	}
	return &ValidationError{Param: param, Value: fmt.Sprint(*v),
		Reason: fmt.Sprintf("outside %d..%d %s", lo, hi, unit)}
}

// validateCreateRoom checks what Twilio would reject in a CreateRoom.
func validateCreateRoom(p *openapi.CreateRoomParams) error {
	if p == nil {
		return nil
	}
	if p.UniqueName != nil {
		if err := checkName("UniqueName", *p.UniqueName); err != nil {
			return err
		}
		if validSID("RM", *p.UniqueName) {
			return &ValidationError{Param: "UniqueName", Value: *p.UniqueName,
				Reason: "a Room SID cannot be a UniqueName (it would be ambiguous in URLs)"}
		}
	}
	typ := "group"
	if p.Type != nil {
		typ = *p.Type
		if _, ok := maxParticipantsByType[typ]; !ok {
			return &ValidationError{Param: "Type", Value: shorten(typ),
				Reason: "want group, group-small, peer-to-peer or go"}
		}
	}
	if p.MaxParticipants != nil {
		max := maxParticipantsByType[typ]
		if p.LargeRoom != nil && *p.LargeRoom {
			max = 0 // large rooms have their own, account-specific limit
		}
		if *p.MaxParticipants < 1 || (max > 0 && *p.MaxParticipants > max) {
			return &ValidationError{Param: "MaxParticipants", Value: fmt.Sprint(*p.MaxParticipants),
				Reason: fmt.Sprintf("outside 1..%d for a %s room (Twilio error 53107)", max, typ)}
		}
	}
	if err := checkRange("EmptyRoomTimeout", p.EmptyRoomTimeout, MinRoomTimeout, MaxRoomTimeout, "minutes"); err != nil {
		return err
	}
	if err := checkRange("UnusedRoomTimeout", p.UnusedRoomTimeout, MinRoomTimeout, MaxRoomTimeout, "minutes"); err != nil {
		return err
	}
	if err := checkRange("MaxParticipantDuration", p.MaxParticipantDuration,
		MinParticipantDuration, MaxParticipantDuration, "seconds (Twilio error 53123)"); err != nil {
		return err
	}
	if p.StatusCallback != nil && len(*p.StatusCallback) >= 1024 {
		// The URL is not echoed: it may carry credentials (https://user:pass@host/).
		return &ValidationError{Param: "StatusCallback", Reason: "URL must be shorter than 1024 characters"}
	}
	return checkMethod("StatusCallbackMethod", p.StatusCallbackMethod)
}

// validateStatus checks an update's Status against the values Twilio accepts.
func validateStatus(param string, s *string, allowed ...string) error {
	if s == nil {
		return &ValidationError{Param: param, Reason: "required"}
	}
	for _, a := range allowed {
		if *s == a {
			return nil
		}
	}
	return &ValidationError{Param: param, Value: shorten(*s),
		Reason: "want " + strings.Join(allowed, " or ")}
}

func withMethod(err error, method string) error {
	if ve, ok := err.(*ValidationError); ok && ve.Method == "" {
		ve.Method = method
	}
	return err
}
