package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
)

// RunPeaks checks a [backend.PeakRecorder]: an hour's record keeps the
// highest figure of each resource whatever the order and concurrency of the
// recordings, Peaks lists the hours that have a record, oldest first, and a
// span longer than [backend.MaxPeakHours] is refused. account must have
// no record in the store yet; the records are kept until a day from now.
func RunPeaks(t *testing.T, rec backend.PeakRecorder, account string) {
	t.Helper()
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	keep := time.Now().Add(24 * time.Hour)

	// Hour 0: 16 recorders at once, figures 1..16 for rooms, 101..116 for
	// participants; the record is the highest of each.
	var wg sync.WaitGroup
	for i := 1; i <= 16; i++ {
		wg.Go(func() {
			if _, err := rec.RecordPeak(ctx, account, backend.Rooms, base, i, keep); err != nil {
				t.Error(err)
			}
			if _, err := rec.RecordPeak(ctx, account, backend.Participants, base.Add(30*time.Minute), 100+i, keep); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// A lower figure later leaves the peak and returns it.
	got, err := rec.RecordPeak(ctx, account, backend.Rooms, base.Add(59*time.Minute), 3, keep)
	if err != nil || got != 16 {
		t.Errorf("RecordPeak of a lower figure = %d, %v; want the hour's peak 16", got, err)
	}
	// Hour 2 has rooms only; hour 1 nothing.
	if got, err := rec.RecordPeak(ctx, account, backend.Rooms, base.Add(2*time.Hour), 7, keep); err != nil || got != 7 {
		t.Errorf("RecordPeak = %d, %v; want 7", got, err)
	}
	hs, err := rec.Peaks(ctx, account, base.Add(-time.Hour), base.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []backend.HourPeak{{Hour: base, Rooms: 16, Participants: 116}, {Hour: base.Add(2 * time.Hour), Rooms: 7}}
	if len(hs) != len(want) {
		t.Fatalf("Peaks = %+v, want %+v", hs, want)
	}
	for i := range want {
		if !hs[i].Hour.Equal(want[i].Hour) || hs[i].Rooms != want[i].Rooms || hs[i].Participants != want[i].Participants {
			t.Errorf("Peaks[%d] = %+v, want %+v", i, hs[i], want[i])
		}
	}
	// Another account sees none of it.
	if hs, err := rec.Peaks(ctx, account+"-other", base, base.Add(4*time.Hour)); err != nil || len(hs) != 0 {
		t.Errorf("another account's Peaks = %+v, %v; want none", hs, err)
	}
	if _, err := rec.Peaks(ctx, account, base.Add(-backend.MaxPeakHours*time.Hour), base); err == nil {
		t.Errorf("Peaks over %d hours: no error", backend.MaxPeakHours+1)
	}
}
