package backend

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Resource is a concurrency quota a ledger counts: [Rooms] or [Participants].
// Its values equal those of quota.Resource, which converts to it.
type Resource uint8

const (
	// Rooms counts in-progress Rooms.
	Rooms Resource = iota
	// Participants counts connected Participants.
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

// Class is a request bucket: [Read] or [Write]. Its values equal those of
// quota.Class, which converts to it.
type Class uint8

const (
	// Read is the bucket of GET requests.
	Read Class = iota
	// Write is the bucket of POST and DELETE requests.
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

// Rate is the configured ceiling of one request bucket.
type Rate struct {
	PerSecond float64 // requests per second; negative: unlimited
	Burst     int     // at least 1
}

// FactorTolerance is how close two adaptive factors must be to count as
// equal in [Store.AdjustRateFactor] (stores may keep factors as decimal text).
const FactorTolerance = 1e-9

// FactorError is returned by [Store.AdjustRateFactor] for an adaptive rate
// factor outside (0, 1] or a ttl that is not positive.
type FactorError struct {
	Factor float64
	TTL    time.Duration
}

// Error names what was out of range.
func (e *FactorError) Error() string {
	if !(e.Factor > 0 && e.Factor <= 1) {
		return "backend: rate factor must be in (0, 1], got " + strconv.FormatFloat(e.Factor, 'g', -1, 64)
	}
	return "backend: rate factor ttl must be positive, got " + e.TTL.String()
}

// RisePoint is the usage at which a level rises: ceil(level*limit), at least
// 1 and at most limit (so no limit, however large, overflows it).
func RisePoint(level float64, limit int) int {
	f := math.Ceil(level*float64(limit) - 1e-9)
	if f >= float64(limit) {
		return max(limit, 1)
	}
	return max(int(f), 1)
}

// NewKey returns a random reservation key, unique across processes.
func NewKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "rsv-" + hex.EncodeToString(b[:])
}
