package backend

import (
	"context"
	"time"
)

// Bounds is what a ledger operation is checked against.
type Bounds struct {
	// Limit is the quota; negative means unlimited (crossings are then never reported).
	Limit int
	// Levels are the threshold levels as shares of Limit, ascending, each in (0, 1].
	// A level L rises when usage reaches ceil(L*Limit) and falls when usage drops
	// below ceil(L*Limit) - Hysteresis.
	Levels []float64
	// Hysteresis is how many units under a level's rising point usage must fall
	// before a falling crossing is reported (at least 1).
	Hysteresis int
}

// Crossing is one threshold level crossed by a ledger operation.
type Crossing struct {
	Level  float64
	Rising bool
}

// Change is the result of a ledger operation, decided atomically by the store.
type Change struct {
	Used    int  // held plus reserved, after the operation
	Changed bool // whether the operation changed anything (false for a duplicate)
	// Refused is set by Reserve when it took nothing because usage was at
	// the limit or the resource was marked full (see [Store.MarkFull]);
	// Used is then the usage that refused it and Limit the limit it was
	// checked against: Bounds.Limit, or a smaller share of it that the
	// store applies (e.g. the local share of a store that lost its server);
	// -1 when Bounds was nil.
	Refused   bool
	Limit     int
	Crossings []Crossing // threshold crossings this operation caused, nil when none
	// Seq orders the operations that crossed a level: the store numbers them
	// in the order it decided them, increasing per account (0 when
	// Crossings is empty, or when the store does not number them).
	Seq uint64
}

// EndedTTL is how long a store remembers a holding it gave back (a Room or
// Participant SID that ended, through [Store.Release] or [Store.Sync]): for
// that long a later [Store.Hold] or [Store.Commit] onto the key, by any
// client of the store, holds nothing. Twilio never reuses a SID, so the
// only later reports of an ended SID are late ones: a room-created or
// participant-connected callback delivered after the end (to a process
// that did not hear the end), a response that crossed the end on the wire.
// Twenty minutes is more than video's callback retention (15 minutes: older
// callbacks change nothing) plus the minute of clock skew it allows.
//
// A store keeps at most [MaxEnded] ended keys per account and resource,
// dropping the oldest first; with fewer ends than that within EndedTTL,
// every one is remembered.
const EndedTTL = 20 * time.Minute

// MaxEnded bounds the ended keys a store remembers per account and resource
// (see [EndedTTL]): 100,000 ends in 20 minutes is 83 a second, more than
// Twilio's 10,000 concurrent Participants each staying two minutes.
const MaxEnded = 100_000

// Store keeps an account's quota state: the request buckets and the
// concurrency ledger. Every method is atomic, so several clients (in one
// process with the store of quota/memstore, or in many with a Redis store)
// share one account's quota and each threshold crossing is reported to exactly one caller.
//
// Keys identify a slot: a reservation id for a pending slot, a Room or
// Participant SID for a held one. Methods are safe for simultaneous use.
type Store interface {
	// TakeToken takes one token of class for account from a bucket of the
	// given ceiling, slowed by the account's adaptive factor. It returns how
	// long the caller must wait before sending. If more than maxWait would be
	// needed, it takes nothing and returns ok false with the wait that was needed.
	TakeToken(ctx context.Context, account string, class Class, r Rate, maxWait time.Duration) (wait time.Duration, ok bool, err error)
	// ReturnToken gives back one token of class that TakeToken granted with a
	// wait the caller then abandoned (its ctx ended): the bucket's next grant
	// comes one token earlier, never earlier than now, and the bucket never
	// holds more than r.Burst.
	ReturnToken(ctx context.Context, account string, class Class, r Rate) error
	// RateFactor returns the adaptive factor of class (0 < f <= 1; 1 when
	// never slowed or when the last adjustment has expired).
	RateFactor(ctx context.Context, account string, class Class) (float64, error)
	// AdjustRateFactor changes the factor that scales the bucket's rate, in
	// one atomic step, from the factor from the caller last saw to to
	// (0 < to <= 1). A slow-down (to < from) applies when to is below the
	// current factor, so of two clients slowing down at once the lower
	// factor wins. A raise (to > from) applies only when the current factor
	// equals from within [FactorTolerance], so a raise computed from a factor
	// another client has changed meanwhile is dropped. A factor below 1
	// expires ttl (> 0) after it was set, and the bucket runs at its
	// configured rate again. It returns the factor in force afterwards (the
	// caller adopts it), or a *[FactorError] for to or ttl out of range.
	AdjustRateFactor(ctx context.Context, account string, class Class, from, to float64, ttl time.Duration) (float64, error)

	// Reserve adds a pending slot under key if usage is below b.Limit and the
	// resource is not marked full; otherwise it takes nothing and reports
	// Change.Refused (not an error: package quota builds the error). A
	// reservation lapses after ttl unless committed or released. Reserving a key
	// that is already pending or held changes nothing, but that a pending
	// one then lapses with the later of the two ttls (clients that share a
	// key, such as a JoinToken's, each wait their own time).
	Reserve(ctx context.Context, account string, res Resource, key string, b *Bounds, ttl time.Duration) (Change, error)
	// Commit turns the reservation under key into a holding under holdKey
	// (which may equal key), held for at most ttl (Twilio's 24 h maximum).
	// Committing an unknown or lapsed reservation adds the holding anyway.
	// Committing onto an ended holdKey (see [EndedTTL]) drops the
	// reservation and holds nothing.
	Commit(ctx context.Context, account string, res Resource, key, holdKey string, b *Bounds, ttl time.Duration) (Change, error)
	// Hold records a slot that Twilio reports held (a callback, a response),
	// even past the limit. Holding a key already held changes nothing, and
	// so does holding an ended key (see [EndedTTL]).
	Hold(ctx context.Context, account string, res Resource, key string, b *Bounds, ttl time.Duration) (Change, error)
	// Release gives back the pending or held slot under key. Giving back a
	// held slot clears a full mark (capacity was freed at Twilio) and marks
	// key ended for [EndedTTL]; giving back a pending reservation does
	// neither (it never took capacity there). Releasing a key that is
	// neither changes no count but marks it ended all the same (a Room or
	// Participant whose end is heard before its start: the start, heard
	// later by another client, then holds nothing); the empty key is never
	// marked.
	Release(ctx context.Context, account string, res Resource, key string, b *Bounds) (Change, error)
	// Sync replaces the holdings of res with exactly keys, keeping pending
	// reservations and the holdings added within the last keep (they were
	// added after the listing that keys come from began: another client
	// created them meanwhile), and returns how many holdings it added and
	// removed. A holding's age is its expiry less ttl: holdings are added
	// with one ttl (the Ledger's: Twilio's 24-hour maximum). The holdings it
	// removes are marked ended (see [EndedTTL]), and a listed key marked
	// ended is not held (Twilio never reuses a SID: the listing, or what a
	// client learnt while it ran, began before the end).
	Sync(ctx context.Context, account string, res Resource, keys []string, b *Bounds, ttl, keep time.Duration) (c Change, added, removed int, err error)
	// MarkFull refuses further reservations of res for d, or until a release
	// or sync, after Twilio answered 53119 or 53206.
	MarkFull(ctx context.Context, account string, res Resource, d time.Duration) error
	// Used returns held plus pending slots of res and whether it is marked full.
	Used(ctx context.Context, account string, res Resource) (used int, full bool, err error)
	// Holds reports whether key is pending or held.
	Holds(ctx context.Context, account string, res Resource, key string) (bool, error)
}
