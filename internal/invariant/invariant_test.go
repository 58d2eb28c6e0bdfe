package invariant

import (
	"errors"
	"sync/atomic"
	"testing"
)

// TestSamplerCountsShortfalls: samples where counted is below exist are
// counted with the worst shortfall; failed reads are skipped.
func TestSamplerCountsShortfalls(t *testing.T) {
	var n atomic.Int64
	exist := func() (int, error) {
		i := n.Add(1)
		if i%5 == 0 {
			return 0, errors.New("unreachable")
		}
		return int(i % 4), nil
	}
	s := Start(exist, func() (int, error) { return 1, nil })
	for n.Load() < 2000 {
	}
	r := s.Stop()
	if r.Samples == 0 || r.Below == 0 || r.Worst != 2 || r.Below >= r.Samples {
		t.Fatalf("%+v: want samples, some below, worst 2", r)
	}
	if again := s.Stop(); again != r {
		t.Errorf("second Stop %+v, want %+v", again, r)
	}
	if ok := Start(func() (int, error) { return 3, nil }, func() (int, error) { return 3, nil }).Stop(); ok.Below != 0 {
		t.Errorf("equal counts: %v", ok)
	}
}
