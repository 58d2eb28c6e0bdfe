package video

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/memstore"
)

// fullStatusRecorder returns a recorder with every ring full: an hour and
// more of usage samples, the whole peak period of hours, 64 events and 32
// Rooms with names of Twilio's longest (128 characters).
func fullStatusRecorder(tb testing.TB, period time.Duration) *statusRecorder {
	st, err := memstore.New()
	if err != nil {
		tb.Fatal(err)
	}
	c := &Client{accountSID: "AC00000000000000000000000000000000", store: st, now: time.Now}
	r, err := newStatusRecorder(c, &statusSettings{peakPeriod: period})
	if err != nil {
		tb.Fatal(err)
	}
	c.status = r
	start := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	for s := range 2 * 3600 {
		for res := range 2 {
			r.observe(ctx, quota.Resource(res), s+res, start.Add(time.Duration(s)*time.Second))
		}
	}
	for h := range int(period / time.Hour) {
		r.peaks.raise(start.Add(-time.Duration(h)*time.Hour), quota.Rooms, h)
	}
	for i := range 2 * statusEvents {
		r.event(StatusEvent{At: start, Kind: "threshold-rising", Resource: "rooms", Used: i, Limit: 10, Level: 0.7})
	}
	for i := range 2 * statusRooms {
		r.room(fmt.Sprintf("RM%032x", i), strings.Repeat("n", 200), "in-progress", start)
	}
	return r
}

// heapOf returns the bytes of live heap that build's result keeps.
func heapOf(build func() any) (uint64, any) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc), v
}

// TestStatusHistoryHeap: what a Client keeps for its status page, with
// every ring full, stays under 1 MB at the default peak period and at the
// longest one.
func TestStatusHistoryHeap(t *testing.T) {
	for _, period := range []time.Duration{DefaultPeakPeriod, MaxPeakPeriod} {
		n, keep := heapOf(func() any { return fullStatusRecorder(t, period) })
		runtime.KeepAlive(keep)
		t.Logf("status history, peak period %s: %d bytes", period, n)
		if n > 1<<20 {
			t.Errorf("status history with a peak period of %s holds %d bytes, over 1 MB", period, n)
		}
	}
}

// BenchmarkStatusHistoryHeap reports the heap a full status history keeps
// (history-B), at the default peak period.
func BenchmarkStatusHistoryHeap(b *testing.B) {
	for b.Loop() {
		n, keep := heapOf(func() any { return fullStatusRecorder(b, DefaultPeakPeriod) })
		runtime.KeepAlive(keep)
		b.ReportMetric(float64(n), "history-B")
	}
}

// BenchmarkStatusObserve is what each ledger operation of a Client adds
// for the status: the trend sample and the hour's peak, with usage moving
// below the hour's peak (the store is written only on a new high).
func BenchmarkStatusObserve(b *testing.B) {
	r := fullStatusRecorder(b, DefaultPeakPeriod)
	ctx := context.Background()
	now := time.Unix(1_800_000_000+2*3600, 0)
	r.observe(ctx, quota.Rooms, 1000, now)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		r.observe(ctx, quota.Rooms, 500+i%100, now.Add(time.Duration(i)*time.Millisecond))
	}
}
