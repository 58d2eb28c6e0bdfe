package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/memstore"
	"github.com/videoquota/videoquota/quota/storetest"
)

func TestMemoryPeaks(t *testing.T) {
	s, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	storetest.RunPeaks(t, s, "AC1")
}

// TestMemoryPeaksLapse: an hour's record is gone after its keepUntil.
func TestMemoryPeaksLapse(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, err := memstore.New(memstore.WithClock(clockFunc(func() time.Time { return now })))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.RecordPeak(ctx, "AC1", backend.Rooms, now, 5, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if hs, _ := s.Peaks(ctx, "AC1", now, now); len(hs) != 1 || hs[0].Rooms != 5 {
		t.Fatalf("Peaks = %+v, want the hour", hs)
	}
	now = now.Add(2 * time.Hour)
	if hs, _ := s.Peaks(ctx, "AC1", now.Add(-2*time.Hour), now); len(hs) != 0 {
		t.Errorf("Peaks after keepUntil = %+v, want none", hs)
	}
}
