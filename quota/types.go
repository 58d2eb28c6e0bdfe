package quota

import (
	"errors"
	"fmt"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// Twilio error and warning codes that the quota logic speaks of
// (https://www.twilio.com/docs/api/errors).
const (
	CodeTooManyRequests      = 20429 // HTTP 429: never processed, safe to retry
	CodeRoomsExceeded        = 53119 // concurrent Rooms quota exceeded
	CodeParticipantsExceeded = 53206 // concurrent Participants quota exceeded
	CodeApproachingQuota     = 53121 // warning: 70% of a concurrency quota reached
)

// Resource is a concurrency quota: [Rooms] or [Participants].
type Resource uint8

const (
	// Rooms counts in-progress Rooms (Twilio's "Max concurrent Rooms").
	Rooms Resource = iota
	// Participants counts connected Participants (Twilio's "Max concurrent Participants").
	Participants
)

// String returns "rooms" or "participants".
func (r Resource) String() string { return backend.Resource(r).String() }

// ExceededCode returns Twilio's error code for exceeding r: 53119 or 53206.
func (r Resource) ExceededCode() int {
	if r == Participants {
		return CodeParticipantsExceeded
	}
	return CodeRoomsExceeded
}

// Class is a request class with its own rate quota: [Read] (GET) or [Write] (POST, DELETE).
type Class uint8

const (
	// Read is a GET request (Twilio: "e.g get Room, get list of Participants").
	Read Class = iota
	// Write is a POST or DELETE request (Twilio: "e.g create Room, update Participant").
	Write
)

// String returns "read" or "write".
func (c Class) String() string { return backend.Class(c).String() }

// ClassOf returns the class Twilio counts an HTTP method against.
func ClassOf(method string) Class {
	if method == "GET" || method == "HEAD" {
		return Read
	}
	return Write
}

// Rate is the configured ceiling of one request bucket.
type Rate struct {
	PerSecond float64 `json:"per_second"` // requests per second; negative: unlimited
	Burst     int     `json:"burst"`      // requests back to back after an idle spell, at least 1
}

// Source says where a threshold crossing or a quota refusal was learnt: the
// Client's own call ([SourceLocal]), a status callback ([SourceCallback]), a
// reconciliation ([SourceReconcile]) or Twilio's own report of the quota, a
// 53119/53206 answer or a 53121 Debugger event or Monitor alert ([SourceTwilio]).
type Source uint8

const (
	// SourceLocal is this library's own accounting.
	SourceLocal Source = iota
	// SourceTwilio is Twilio itself: a 53119/53206 response, a Debugger event or a Monitor alert.
	SourceTwilio
	// SourceReconcile is a correction found by listing what Twilio holds.
	SourceReconcile
	// SourceCallback is a Room status callback
	// (https://www.twilio.com/docs/video/api/status-callbacks).
	SourceCallback
)

// String returns "local", "twilio", "reconcile" or "callback".
func (s Source) String() string {
	switch s {
	case SourceLocal:
		return "local"
	case SourceTwilio:
		return "twilio"
	case SourceReconcile:
		return "reconcile"
	case SourceCallback:
		return "callback"
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// ErrExceeded matches every refusal for a concurrency quota, local or Twilio's,
// with errors.Is.
var ErrExceeded = errors.New("quota: concurrency quota exceeded")

// ExceededError is a refusal for a concurrency quota. When Source is SourceLocal
// no request was sent; when it is SourceTwilio, Err holds Twilio's error
// (a *client.TwilioRestError).
type ExceededError struct {
	Resource Resource
	Used     int
	Limit    int
	Code     int // 53119 for rooms, 53206 for participants
	Source   Source
	// FullSince and FullUntil are set on a local refusal while Twilio's
	// own refusal marks the quota full (see [Ledger.MarkFull]): when
	// Twilio first refused, and until when the Client refuses locally
	// unless a source shows room sooner. Zero otherwise.
	FullSince, FullUntil time.Time
	// Tenant names the tenant whose own cap refused, "" when the account's
	// quota did.
	Tenant string
	Err    error
}

// Error describes the refusal.
func (e *ExceededError) Error() string {
	msg := fmt.Sprintf("quota: concurrent %s quota exceeded (%d of %d in use, Twilio code %d, %s)",
		e.Resource, e.Used, e.Limit, e.Code, e.Source)
	if e.Tenant != "" {
		msg = fmt.Sprintf("quota: tenant %q's concurrent %s cap exceeded (%d of %d in use, %s)",
			e.Tenant, e.Resource, e.Used, e.Limit, e.Source)
	}
	if !e.FullSince.IsZero() {
		msg += fmt.Sprintf(": Twilio refused with %d at %s; refusing locally until %s or until a source shows room",
			e.Code, e.FullSince.UTC().Format(time.RFC3339), e.FullUntil.UTC().Format(time.RFC3339))
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is [ErrExceeded].
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// Unwrap returns Twilio's error, if any.
func (e *ExceededError) Unwrap() error { return e.Err }
