package video

import (
	"testing"
	"time"
)

// BenchmarkStatusLockedSections times, with every status ring full, each
// section of a snapshot's build that holds a lock a request of the Client
// may wait on: the usage trend's (every ledger operation observes into it)
// for the history of the charts and for the two-window forecast, the peak
// table's (every ledger operation raises the hour's peak) for the whole
// 31-day period, and the rings' (events, Rooms) for their copies. The rest
// of a snapshot (the store's usage, which takes the store's own locks as a
// request does, the JSON encoding, the page) runs outside them; a read
// served from a snapshot takes none.
func BenchmarkStatusLockedSections(b *testing.B) {
	r := fullStatusRecorder(b, DefaultPeakPeriod)
	now := time.Unix(1_800_000_000+2*3600, 0)
	to := now.Unix() / 3600
	from := to - int64(r.period/time.Hour) + 1
	// The first snapshot reads the hour from the trend; the later ones read
	// the steps since the last snapshot (historyCache), one or two.
	b.Run("trend-history-hour", func(b *testing.B) {
		for b.Loop() {
			if len(r.trend[0].History(now, time.Hour)) == 0 {
				b.Fatal("no history")
			}
		}
	})
	b.Run("trend-history-since-last-snapshot", func(b *testing.B) {
		step := r.trend[0].Config().Step
		for b.Loop() {
			if len(r.trend[0].History(now, step)) == 0 {
				b.Fatal("no history")
			}
		}
	})
	b.Run("trend-forecast", func(b *testing.B) {
		for b.Loop() {
			_ = r.trend[0].Forecast(now, 10_000)
		}
	})
	b.Run("peak-table", func(b *testing.B) {
		slots := make([]peakSlot, len(r.peaks.slots))
		for b.Loop() {
			r.peaks.copySlots(slots)
		}
		if len(r.peaks.list(from, to)) == 0 {
			b.Fatal("no peaks")
		}
	})
	b.Run("rings", func(b *testing.B) {
		ev, rooms := make([]StatusEvent, 0, statusEvents), make([]StatusRoom, 0, statusRooms)
		for b.Loop() {
			r.mu.Lock()
			ev, rooms = r.events.appendTo(ev[:0]), r.rooms.appendTo(rooms[:0])
			r.mu.Unlock()
			if len(ev) != statusEvents || len(rooms) != statusRooms {
				b.Fatal(len(ev), len(rooms))
			}
		}
	})
}
