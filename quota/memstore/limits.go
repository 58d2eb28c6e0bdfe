package memstore

import (
	"context"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// OfferLimits implements [backend.LimitsStore]: the offer with the latest
// Since is in force.
func (s *Store) OfferLimits(ctx context.Context, account string, lim backend.AccountLimits) (backend.AccountLimits, error) {
	a := s.account(account)
	lim.Since = lim.Since.Truncate(time.Microsecond)
	a.limMu.Lock()
	defer a.limMu.Unlock()
	if a.limits.Since.IsZero() || lim.Since.After(a.limits.Since) {
		a.limits = lim
	}
	return a.limits, nil
}

var _ backend.LimitsStore = (*Store)(nil)
