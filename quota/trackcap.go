package quota

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/videoquota/videoquota/quota/backend"
)

// TrackCapFactor is how many times the limit in force a [Ledger] lets the
// store count of a resource through [Ledger.Hold]: twice the limit. Twilio
// never has more in progress than the limit, so reports of more (a buggy or
// compromised sender of signed callbacks, or a limit configured far below
// the account's) are not recorded past it, and what a client tracks stays
// bounded by the limits it enforces. A Reconcile corrects the count.
const TrackCapFactor = 2

// ErrTrackCap matches a [TrackCapError].
var ErrTrackCap = errors.New("quota: tracking cap reached")

// TrackCapError is returned by [Ledger.Hold] when the store already counts
// [TrackCapFactor] times the limit in force of the resource: the holding is
// not recorded.
type TrackCapError struct {
	Resource Resource
	Used     int // held plus reserved, as the store counted them
	Cap      int // TrackCapFactor times the limit in force
}

// Error names the resource, the count and the cap.
func (e *TrackCapError) Error() string {
	return fmt.Sprintf("quota: %s: %d counted, at the tracking cap (%d, %d times the limit in force): a report of one more is not recorded",
		e.Resource, e.Used, e.Cap, TrackCapFactor)
}

// Is reports whether target is [ErrTrackCap].
func (e *TrackCapError) Is(target error) bool { return target == ErrTrackCap }

// trackCap returns the tracking cap of a limit (no cap when unlimited).
func trackCap(limit int) int {
	if limit < 0 || limit > math.MaxInt/TrackCapFactor {
		return math.MaxInt
	}
	return TrackCapFactor * limit
}

// capped refuses a Hold of res when the store counts the tracking cap or
// more. The usage last seen decides whether to look (no store call while
// under the cap); at the cap the limits in force and the store's usage are
// read afresh, so a limit raised or a count lowered meanwhile lets the Hold
// through. The first refusal of a run
// of them is logged.
func (l *Ledger) capped(ctx context.Context, res Resource) error {
	if int(l.seen[res&1].Load()) < trackCap(l.boundsOf(res).Limit) {
		return nil
	}
	// At the cap: the limit in force may have been raised meanwhile.
	if err := l.offerLimits(ctx, limitsMaxAge); err != nil {
		return err
	}
	limit := l.boundsOf(res).Limit
	c := trackCap(limit)
	used, _, err := l.store.Used(ctx, l.account, backend.Resource(res))
	if err != nil {
		return err
	}
	l.seen[res&1].Store(int64(used))
	if used < c {
		l.refusing[res&1].Store(false)
		return nil
	}
	if !l.refusing[res&1].Swap(true) && l.log != nil {
		l.log.Warn("quota: tracking cap reached: reports of more Rooms or Participants in progress are not recorded until the count falls (Reconcile corrects it)",
			"account", l.account, "resource", res.String(), "used", used, "limit", limit, "cap", c)
	}
	return &TrackCapError{Resource: res, Used: used, Cap: c}
}
