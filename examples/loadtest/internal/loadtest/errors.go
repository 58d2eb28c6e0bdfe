package loadtest

import (
	"context"
	"errors"

	"github.com/twilio/twilio-go/client"

	"github.com/videoquota/videoquota/quota"
)

// Kind is what an operation's error means to the application.
type Kind uint8

// The kinds of outcome the report counts.
const (
	// OK is a success.
	OK Kind = iota
	// Rate429 is a 20429 (HTTP 429) returned to the application.
	Rate429
	// Quota53119 is a concurrency refusal from the server: 53119 (rooms) or 53206 (participants).
	Quota53119
	// LocalRefusal is a refusal by the client itself before sending: a local
	// concurrency quota refusal or a rate token that could not be had in time.
	LocalRefusal
	// Cancelled is an operation cut short by the end of the run; it is not an error.
	Cancelled
	// Other is any other error.
	Other
	numKinds
)

// String names the kind for the report.
func (k Kind) String() string {
	return [...]string{"ok", "20429", "53119/53206", "local refusal", "cancelled", "other"}[k]
}

// Classify returns the [Kind] of err (nil is [OK]). A 20429 is recognised
// through twilio-go's *client.TwilioRestError wherever it is wrapped; a local
// refusal through *quota.ExceededError with Source local or
// *quota.RateLimitError with cause CauseLocalDeadline.
func Classify(err error) Kind {
	if err == nil {
		return OK
	}
	var ee *quota.ExceededError
	if errors.As(err, &ee) {
		if ee.Source == quota.SourceLocal {
			return LocalRefusal
		}
		return Quota53119
	}
	var re *quota.RateLimitError
	if errors.As(err, &re) && re.Cause == quota.CauseLocalDeadline {
		return LocalRefusal
	}
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		switch te.Code {
		case quota.CodeTooManyRequests:
			return Rate429
		case quota.CodeRoomsExceeded, quota.CodeParticipantsExceeded:
			return Quota53119
		}
		if te.Status == 429 {
			return Rate429
		}
		return Other
	}
	if errors.As(err, &re) {
		return Rate429
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Cancelled
	}
	return Other
}
