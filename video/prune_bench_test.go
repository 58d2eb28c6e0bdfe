package video

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPrune measures the pruning one status callback does while the
// model tracks 100,000 Participants (half of them ended longer ago than the
// retention) in 2,000 Rooms: the time mu is held for it.
func BenchmarkPrune(b *testing.B) {
	var m model
	m.init()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	old := stamp(now.Add(-2 * DefaultCallbackRetention))
	for i := range 2000 {
		m.putRoom(roomTrack{sid: fmt.Sprintf("RM%032x", i), roomState: roomState{mark: inProgress(stamp(now))}})
	}
	for i := range 100000 {
		sid := fmt.Sprintf("PA%032x", i)
		if i%2 == 0 {
			m.trackPartLocked("", sid, endedAt(old), 0)
		} else {
			m.trackPartLocked("", sid, inProgress(stamp(now)), 0)
		}
	}
	m.newest = stamp(now)
	b.ReportAllocs()
	for b.Loop() {
		m.newest += int64(time.Minute / time.Microsecond) // a minute apart: the old sweep ran each time
		m.pruneLocked()
	}
}
