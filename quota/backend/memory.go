package backend

import (
	"math"

	"time"
)

// RisePoint is the usage at which a level rises: ceil(level*limit), at least
// 1 and at most limit (so no limit, however large, overflows it).
func RisePoint(level float64, limit int) int {
	f := math.Ceil(level*float64(limit) - 1e-9)
	if f >= float64(limit) {
		return max(limit, 1)
	}
	return max(int(f), 1)
}

// FactorError is returned by [Store.AdjustRateFactor] for an adaptive rate
// factor outside (0, 1] or a ttl that is not positive.
type FactorError struct {
	Factor float64
	TTL    time.Duration
}

// Error names what was out of range.
func (e *FactorError) Error() string {
	if !(e.Factor > 0 && e.Factor <= 1) {
		return "quota: rate factor must be in (0, 1], got " + formatFloat(e.Factor)
	}
	return "quota: rate factor ttl must be positive, got " + e.TTL.String()
}
