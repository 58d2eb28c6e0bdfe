package backend

import (
	"context"
	"time"
)

// AccountLimits is a set of an account's concurrency limits as one client
// offers it to a [LimitsStore].
type AccountLimits struct {
	Rooms        int // concurrent Rooms; negative: unlimited
	Participants int // concurrent Participants; negative: unlimited
	// Since is when the client that offers them started: of the limits
	// offered for an account, those with the latest Since are in force.
	Since time.Time
}

// Limit returns the limit of res.
func (l AccountLimits) Limit(res Resource) int {
	if res == Participants {
		return l.Participants
	}
	return l.Rooms
}

// LimitsStore is implemented by a [Store] that keeps one set of
// concurrency limits per account, so that every client of the account
// enforces the same limit at any moment, whatever each was configured with.
//
// The rule is that the most recently started client's limits win: each
// client offers its configured limits with the time it started
// ([AccountLimits.Since]), and the store keeps the offer with the latest
// Since (an offer with an equal or earlier Since leaves the kept one in
// force). So a rolling deploy that raises or lowers a quota puts the new
// limits in force as soon as its first new client offers them, and the
// clients still running the old configuration follow. A client of the old
// configuration that restarts during the deploy wins again until the next
// new one starts: the deploy settles when the last client has started.
//
// Offers lapse: the limits in force are those with the latest Since among
// the offers made within the last ttl (each client offers its limits again
// at every reservation, which keeps them). So once the clients of a
// configuration have all stopped, their limits lapse within ttl and the
// next offer of a running client is in force, even if it started earlier.
//
// A store that does not implement it leaves each client with its own
// limits.
type LimitsStore interface {
	// OfferLimits offers lim as account's limits and returns the limits in
	// force afterwards: lim if none are in force (none were offered within
	// ttl) or if lim.Since is later than theirs; an offer of the limits in
	// force (the same Since) keeps them in force for ttl more. Since is kept
	// to the microsecond.
	OfferLimits(ctx context.Context, account string, lim AccountLimits, ttl time.Duration) (AccountLimits, error)
}
