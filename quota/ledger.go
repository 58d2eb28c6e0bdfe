package quota

import (
	"context"
	"time"
)

// Ledger accounts for one account's concurrent Rooms and Participants in a
// [Store]: a slot is reserved before a request that would take one, committed
// under the Twilio SID on success and released when the Room completes or the
// Participant disconnects. It fires the registered [ThresholdFunc]s on its own
// goroutine when usage crosses their levels.
//
// A Ledger is safe for simultaneous use. Close it to stop its event goroutine.
type Ledger struct {
	store   Store
	account string
}

// LedgerOption configures a Ledger.
type LedgerOption func(*Ledger) error

// WithThreshold registers fn for levels (shares of each quota, in (0, 1]);
// with no levels, fn gets [DefaultThresholdLevel]. It may be given several times.
func WithThreshold(fn ThresholdFunc, levels ...float64) LedgerOption { panic("not yet") }

// WithClock sets the clock the ledger stamps events with (default time.Now).
func WithClock(now func() time.Time) LedgerOption { panic("not yet") }

// NewLedger returns a Ledger for account with the concurrency limits of limits.
func NewLedger(store Store, account string, limits Limits, opts ...LedgerOption) (*Ledger, error) {
	panic("not yet")
}

// Reserve takes a pending slot of res under key, lapsing after ttl, or
// returns an *ExceededError (SourceLocal) at once when the quota is used up.
func (l *Ledger) Reserve(ctx context.Context, res Resource, key string, ttl time.Duration) error {
	panic("not yet")
}

// ReserveWait is Reserve that waits for capacity until ctx ends instead of
// refusing; it then returns the *ExceededError wrapping nothing.
func (l *Ledger) ReserveWait(ctx context.Context, res Resource, key string, ttl time.Duration) error {
	panic("not yet")
}

// Commit turns the reservation under key into a holding under holdKey.
func (l *Ledger) Commit(ctx context.Context, res Resource, key, holdKey string) error {
	panic("not yet")
}

// Hold records a slot Twilio reports held, even past the limit.
func (l *Ledger) Hold(ctx context.Context, res Resource, key string) error { panic("not yet") }

// Release gives back the slot under key; an unknown key changes nothing.
func (l *Ledger) Release(ctx context.Context, res Resource, key string) error { panic("not yet") }

// Sync makes the holdings of res exactly keys (pending reservations stay)
// and returns the drift it corrected.
func (l *Ledger) Sync(ctx context.Context, res Resource, keys []string) (added, removed int, err error) {
	panic("not yet")
}

// MarkFull refuses reservations of res for d or until corrected, after Twilio answered 53119/53206.
func (l *Ledger) MarkFull(ctx context.Context, res Resource, d time.Duration) error { panic("not yet") }

// Holds reports whether key is pending or held.
func (l *Ledger) Holds(ctx context.Context, res Resource, key string) (bool, error) { panic("not yet") }

// Used returns held plus pending slots of res, and whether it is marked full.
func (l *Ledger) Used(ctx context.Context, res Resource) (int, bool, error) { panic("not yet") }

// Limit returns the quota of res (negative when unlimited).
func (l *Ledger) Limit(res Resource) int { panic("not yet") }

// Notify delivers an event reported by Twilio (a 53121 Debugger event, a
// 53119 refusal) to the threshold funcs registered for its level, on the
// ledger's event goroutine.
func (l *Ledger) Notify(e Event) { panic("not yet") }

// Close delivers the events already queued and stops the event goroutine.
func (l *Ledger) Close() { panic("not yet") }
