package quota

import (
	"errors"
	"fmt"
	"time"
)

// Twilio Video's default account quotas, per Account SID and not shared with
// subaccounts (https://www.twilio.com/docs/video/programmable-video-limits).
const (
	// DefaultConcurrentRooms is Twilio's default "Max concurrent Rooms".
	DefaultConcurrentRooms = 10000
	// DefaultConcurrentParticipants is Twilio's default "Max concurrent Participants".
	DefaultConcurrentParticipants = 10000
	// DefaultReadsPerSecond is Twilio's default "Max REST API Read requests/sec".
	DefaultReadsPerSecond = 80
	// DefaultWritesPerSecond is Twilio's default "Max REST API Write requests/sec".
	DefaultWritesPerSecond = 20
	// DefaultThresholdLevel is the share of a concurrency quota at which Twilio
	// raises warning 53121 ("Reached 70% of room or participant concurrency quota").
	DefaultThresholdLevel = 0.7
)

// Unlimited switches a limit off when used as a value in [Limits].
const Unlimited = -1

// Twilio error and warning codes that the quota logic speaks of
// (https://www.twilio.com/docs/api/errors).
const (
	CodeTooManyRequests      = 20429 // HTTP 429: never processed, safe to retry
	CodeRoomsExceeded        = 53119 // concurrent Rooms quota exceeded
	CodeParticipantsExceeded = 53206 // concurrent Participants quota exceeded
	CodeApproachingQuota     = 53121 // warning: 70% of a concurrency quota reached
)

// Limits is an account's quota. A zero field means Twilio's default for it and
// a negative one ([Unlimited]) switches that limit off.
type Limits struct {
	ConcurrentRooms        int
	ConcurrentParticipants int
	ReadsPerSecond         float64
	WritesPerSecond        float64
	// ReadBurst and WriteBurst are how many requests of each class may go out
	// back to back after an idle spell. Zero means 1, which keeps the request
	// stream inside any server-side window that allows the per-second rate.
	ReadBurst  int
	WriteBurst int
}

// DefaultLimits returns Twilio's default quotas: 10,000 concurrent Rooms,
// 10,000 concurrent Participants, 80 reads/s and 20 writes/s.
func DefaultLimits() Limits {
	return Limits{
		ConcurrentRooms:        DefaultConcurrentRooms,
		ConcurrentParticipants: DefaultConcurrentParticipants,
		ReadsPerSecond:         DefaultReadsPerSecond,
		WritesPerSecond:        DefaultWritesPerSecond,
		ReadBurst:              1,
		WriteBurst:             1,
	}
}

// WithDefaults returns l with every zero field replaced by Twilio's default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.ConcurrentRooms == 0 {
		l.ConcurrentRooms = d.ConcurrentRooms
	}
	if l.ConcurrentParticipants == 0 {
		l.ConcurrentParticipants = d.ConcurrentParticipants
	}
	if l.ReadsPerSecond == 0 {
		l.ReadsPerSecond = d.ReadsPerSecond
	}
	if l.WritesPerSecond == 0 {
		l.WritesPerSecond = d.WritesPerSecond
	}
	if l.ReadBurst <= 0 {
		l.ReadBurst = 1
	}
	if l.WriteBurst <= 0 {
		l.WriteBurst = 1
	}
	return l
}

// Validate reports a limit that cannot be used: NaN rates or negative values
// other than [Unlimited].
func (l Limits) Validate() error {
	check := func(name string, v float64) error {
		if v != v || (v < 0 && v != Unlimited) {
			return fmt.Errorf("quota: Limits.%s = %v: want a positive value, 0 for Twilio's default or quota.Unlimited", name, v)
		}
		return nil
	}
	for _, c := range []struct {
		name string
		v    float64
	}{
		{"ConcurrentRooms", float64(l.ConcurrentRooms)},
		{"ConcurrentParticipants", float64(l.ConcurrentParticipants)},
		{"ReadsPerSecond", l.ReadsPerSecond},
		{"WritesPerSecond", l.WritesPerSecond},
	} {
		if err := check(c.name, c.v); err != nil {
			return err
		}
	}
	if l.ReadBurst < 0 || l.WriteBurst < 0 {
		return fmt.Errorf("quota: Limits burst must not be negative (ReadBurst %d, WriteBurst %d)", l.ReadBurst, l.WriteBurst)
	}
	return nil
}

// Concurrency returns the limit for res (negative when unlimited).
func (l Limits) Concurrency(res Resource) int {
	if res == Participants {
		return l.ConcurrentParticipants
	}
	return l.ConcurrentRooms
}

// Rate returns the per-second rate and burst for class (a negative rate when unlimited).
func (l Limits) Rate(class Class) (perSecond float64, burst int) {
	if class == Read {
		return l.ReadsPerSecond, l.ReadBurst
	}
	return l.WritesPerSecond, l.WriteBurst
}

// Resource is a concurrency quota: [Rooms] or [Participants].
type Resource uint8

const (
	// Rooms counts in-progress Rooms (Twilio's "Max concurrent Rooms").
	Rooms Resource = iota
	// Participants counts connected Participants (Twilio's "Max concurrent Participants").
	Participants
)

// String returns "rooms" or "participants".
func (r Resource) String() string {
	switch r {
	case Rooms:
		return "rooms"
	case Participants:
		return "participants"
	}
	return fmt.Sprintf("Resource(%d)", uint8(r))
}

// ExceededCode returns Twilio's error code for exceeding res: 53119 or 53206.
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
func (c Class) String() string {
	switch c {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// ClassOf returns the class Twilio counts an HTTP method against.
func ClassOf(method string) Class {
	if method == "GET" || method == "HEAD" {
		return Read
	}
	return Write
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

// Event tells that usage of a concurrency quota crossed a threshold level, modelled
// on Twilio's warning 53121.
type Event struct {
	Resource Resource
	Used     int     // usage right after the crossing (held plus reserved)
	Limit    int     // the quota
	Level    float64 // the level crossed, a share of Limit (0.7 for 53121)
	Rising   bool    // true when usage rose to the level, false when it fell back under it
	Code     int     // 53121 for crossings; 53119/53206 when Twilio refused for the quota
	Source   Source
	At       time.Time
}

// ThresholdFunc is called for each threshold [Event]. It runs on the
// ledger's single event goroutine, never on the goroutine of the request that
// caused the crossing and never under a lock, in the order the crossings
// happened. A slow ThresholdFunc delays later events, never requests.
type ThresholdFunc func(Event)

// ErrExceeded matches every refusal for a concurrency quota, local or Twilio's,
// with errors.Is.
var ErrExceeded = errors.New("quota exceeded")

// ExceededError is a refusal for a concurrency quota. When Source is SourceLocal
// no request was sent; when it is SourceTwilio, Err holds Twilio's error
// (a *client.TwilioRestError).
type ExceededError struct {
	Resource Resource
	Used     int
	Limit    int
	Code     int // 53119 for rooms, 53206 for participants
	Source   Source
	Err      error
}

// Error describes the refusal.
func (e *ExceededError) Error() string {
	msg := fmt.Sprintf("videoquota: concurrent %s quota exceeded (%d of %d in use, Twilio code %d, %s)",
		e.Resource, e.Used, e.Limit, e.Code, e.Source)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is [ErrExceeded].
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// Unwrap returns Twilio's error, if any.
func (e *ExceededError) Unwrap() error { return e.Err }

// ErrRateLimited matches every refusal for a request-rate quota with errors.Is.
var ErrRateLimited = errors.New("rate limited")

// RateCause says which limit a rate refusal most likely met.
type RateCause uint8

const (
	// CauseLocalDeadline: the local bucket could not give a token before the
	// context's deadline; nothing was sent.
	CauseLocalDeadline RateCause = iota
	// CauseVideoRate: Twilio answered 20429 and the Video requests-per-second
	// quota is the likely wall: send fewer requests per second.
	CauseVideoRate
	// CauseConcurrency: Twilio answered 20429 while many requests of the
	// account were in flight (Twilio-Concurrent-Requests): the platform's API
	// concurrency limit is the likely wall: send fewer at once.
	CauseConcurrency
)

// String names the cause.
func (c RateCause) String() string {
	switch c {
	case CauseLocalDeadline:
		return "local deadline"
	case CauseVideoRate:
		return "video rate quota"
	case CauseConcurrency:
		return "api concurrency limit"
	}
	return fmt.Sprintf("RateCause(%d)", uint8(c))
}

// RateLimitError is a refusal for a request-rate quota.
type RateLimitError struct {
	Class Class
	Cause RateCause
	// Wait is how long a token would have taken (CauseLocalDeadline) or the
	// Retry-After Twilio sent, zero when it sent none.
	Wait time.Duration
	// ConcurrentRequests is Twilio-Concurrent-Requests of the last response, 0 if absent.
	ConcurrentRequests int
	// Err is Twilio's error (a *client.TwilioRestError with code 20429), if any.
	Err error
}

// Error describes the refusal.
func (e *RateLimitError) Error() string {
	msg := fmt.Sprintf("videoquota: %s rate limited (%s", e.Class, e.Cause)
	if e.Wait > 0 {
		msg += fmt.Sprintf(", wait %s", e.Wait)
	}
	if e.ConcurrentRequests > 0 {
		msg += fmt.Sprintf(", %d concurrent requests", e.ConcurrentRequests)
	}
	msg += ")"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is [ErrRateLimited].
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Unwrap returns Twilio's error, if any.
func (e *RateLimitError) Unwrap() error { return e.Err }

func formatFloat(f float64) string { return fmt.Sprintf("%g", f) }
