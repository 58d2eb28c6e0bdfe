package backend

import (
	"context"
	"time"
)

// PeakRecorder is implemented by stores that keep an account's peak
// report: the highest concurrent usage of each resource in each hour, kept
// in the store so that every process sharing it reports the account's peak,
// not its own. [github.com/videoquota/videoquota/quota.MemoryStore] and the
// Redis store of quota/redisstore do. It is optional: package video keeps a
// process-local report when the store does not implement it.
//
// Hours are UTC and named by their start, truncated to the hour. Methods
// are safe for simultaneous use.
type PeakRecorder interface {
	// RecordPeak raises the peak of res for account in the hour starting at
	// hour to used when used is higher, atomically (of two processes
	// recording at once the higher value stays), keeps the hour's record
	// until keepUntil, and returns the hour's peak afterwards.
	RecordPeak(ctx context.Context, account string, res Resource, hour time.Time, used int, keepUntil time.Time) (int, error)
	// Peaks returns the recorded peaks of account for the hours starting at
	// from, from+1h, ..., up to and including to: one HourPeak per hour that
	// has a record, oldest first.
	Peaks(ctx context.Context, account string, from, to time.Time) ([]HourPeak, error)
}

// HourPeak is the peak concurrent usage of one hour. A resource with no
// record in the hour reads 0.
type HourPeak struct {
	Hour         time.Time // the hour's start, UTC
	Rooms        int       // peak concurrent Rooms
	Participants int       // peak concurrent Participants
}

// MaxPeakHours bounds how many hours one [PeakRecorder.Peaks] call may
// span: 400 days.
const MaxPeakHours = 400 * 24
