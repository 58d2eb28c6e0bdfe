package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// memPeaks is a Store's peak report: one record per account and hour.
type memPeaks struct {
	mu    sync.Mutex
	hours map[peakKey]memPeak
}

type peakKey struct {
	account string
	hour    int64 // unix hour
}

type memPeak struct {
	used      [2]int
	keepUntil time.Time
}

func unixHour(t time.Time) int64 { return t.Unix() / 3600 }

// RecordPeak implements [backend.PeakRecorder]. Records past their
// keepUntil (by the store's clock) are dropped as records are added, so
// the store holds at most the hours of the period kept.
func (s *Store) RecordPeak(ctx context.Context, account string, res backend.Resource, hour time.Time, used int, keepUntil time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if res > backend.Participants {
		return 0, fmt.Errorf("memstore: RecordPeak: unknown resource %v", res)
	}
	p := &s.peaks
	p.mu.Lock()
	defer p.mu.Unlock()
	now := s.clock.Now()
	if p.hours == nil {
		p.hours = make(map[peakKey]memPeak)
	}
	k := peakKey{account, unixHour(hour)}
	r, ok := p.hours[k]
	if !ok {
		for k, r := range p.hours { // amortised: one sweep per hour recorded
			if !now.Before(r.keepUntil) {
				delete(p.hours, k)
			}
		}
	}
	r.used[res] = max(r.used[res], used)
	r.keepUntil = keepUntil
	p.hours[k] = r
	return r.used[res], nil
}

// Peaks implements [backend.PeakRecorder].
func (s *Store) Peaks(ctx context.Context, account string, from, to time.Time) ([]backend.HourPeak, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a, b := unixHour(from), unixHour(to)
	if b-a >= backend.MaxPeakHours {
		return nil, fmt.Errorf("memstore: Peaks: %d hours, at most %d", b-a+1, backend.MaxPeakHours)
	}
	p := &s.peaks
	p.mu.Lock()
	defer p.mu.Unlock()
	now := s.clock.Now()
	var out []backend.HourPeak
	for h := a; h <= b; h++ {
		if r, ok := p.hours[peakKey{account, h}]; ok && now.Before(r.keepUntil) {
			out = append(out, backend.HourPeak{Hour: time.Unix(h*3600, 0).UTC(), Rooms: r.used[backend.Rooms], Participants: r.used[backend.Participants]})
		}
	}
	return out, nil
}

var _ backend.PeakRecorder = (*Store)(nil)
