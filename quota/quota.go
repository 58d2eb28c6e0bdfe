package quota

import (
	"errors"
	"fmt"
	"time"
)

// DefaultThresholdLevel is the share of a concurrency quota at which Twilio
// raises warning 53121 ("Reached 70% of room or participant concurrency quota").
const DefaultThresholdLevel = 0.7

// Unlimited switches a limit off when used as a value in [Limits].
const Unlimited = -1

// Limits is an account's quota. A zero field means Twilio's default for it and
// [Unlimited] (-1) switches that limit off; [Limits.Validate] refuses other
// negative values.
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

// DefaultLimits returns Twilio Video's default account quotas, per Account
// SID and not shared with subaccounts
// (https://www.twilio.com/docs/video/programmable-video-limits): 10,000
// concurrent Rooms ("Max concurrent Rooms"), 10,000 concurrent Participants
// ("Max concurrent Participants"), 80 reads/s ("Max REST API Read
// requests/sec") and 20 writes/s ("Max REST API Write requests/sec").
func DefaultLimits() Limits {
	return Limits{
		ConcurrentRooms:        10000,
		ConcurrentParticipants: 10000,
		ReadsPerSecond:         80,
		WritesPerSecond:        20,
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

// rate returns the per-second rate and burst for class (a negative rate when unlimited).
func (l Limits) rate(class Class) (perSecond float64, burst int) {
	if class == Read {
		return l.ReadsPerSecond, l.ReadBurst
	}
	return l.WritesPerSecond, l.WriteBurst
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

	notified bool // passed to Ledger.Notify: Twilio's report, not a store crossing
}

// ThresholdFunc is called for each threshold [Event]. It runs on the
// ledger's single event goroutine, never on the goroutine of the request that
// caused the crossing and never under a lock, in the order the crossings
// happened. A slow ThresholdFunc delays later events, never requests.
type ThresholdFunc func(Event)

// ErrRateLimited matches every refusal for a request-rate quota with errors.Is.
var ErrRateLimited = errors.New("quota: rate limited")

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
	msg := fmt.Sprintf("quota: %s rate limited (%s", e.Class, e.Cause)
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
