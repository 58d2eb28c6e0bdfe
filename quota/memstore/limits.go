package memstore

import (
	"context"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// OfferLimits implements [backend.LimitsStore]: the offer with the latest
// Since among those made within ttl (on the store's clock) is in force.
func (s *Store) OfferLimits(ctx context.Context, account string, lim backend.AccountLimits, ttl time.Duration) (backend.AccountLimits, error) {
	a := s.account(account)
	now := s.clock.Now()
	lim.Since = lim.Since.Truncate(time.Microsecond)
	a.limMu.Lock()
	defer a.limMu.Unlock()
	lapsed := a.limits.Since.IsZero() || !now.Before(a.limUntil)
	switch {
	case lapsed || lim.Since.After(a.limits.Since):
		a.limits, a.limUntil = lim, now.Add(ttl)
	case lim.Since.Equal(a.limits.Since):
		a.limUntil = now.Add(ttl)
	}
	return a.limits, nil
}

var _ backend.LimitsStore = (*Store)(nil)
