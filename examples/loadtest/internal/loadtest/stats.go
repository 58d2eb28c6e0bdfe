package loadtest

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Latencies collects durations; it is safe for simultaneous use.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Summary returns the count and the p50, p99 and maximum of what was recorded.
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	s := slices.Clone(l.d)
	l.mu.Unlock()
	slices.Sort(s)
	if len(s) == 0 {
		return Summary{}
	}
	return Summary{N: len(s), P50: Percentile(s, 50), P99: Percentile(s, 99), Max: s[len(s)-1]}
}

// Summary is a latency distribution reduced to the figures the report shows.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which must be in ascending order; 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Timeline counts events in one-second buckets from a start time. It is safe
// for simultaneous use. Events before the start fall in the first bucket.
type Timeline struct {
	mu      sync.Mutex
	start   time.Time
	buckets []int64
}

// NewTimeline returns a Timeline starting at start.
func NewTimeline(start time.Time) *Timeline { return &Timeline{start: start} }

// Add counts n events at t.
func (tl *Timeline) Add(t time.Time, n int64) {
	i := max(int(t.Sub(tl.start)/time.Second), 0)
	tl.mu.Lock()
	for len(tl.buckets) <= i {
		tl.buckets = append(tl.buckets, 0)
	}
	tl.buckets[i] += n
	tl.mu.Unlock()
}

// Buckets returns the per-second counts, padded with zeros to at least n buckets.
func (tl *Timeline) Buckets(n int) []int64 {
	tl.mu.Lock()
	b := slices.Clone(tl.buckets)
	tl.mu.Unlock()
	for len(b) < n {
		b = append(b, 0)
	}
	return b
}

// SteadyRate returns the mean per-second count over buckets [from, to):
// the harness skips the first second, when the server's bucket still holds
// its idle burst, and the last, partial one.
func SteadyRate(buckets []int64, from, to int) float64 {
	to = min(to, len(buckets))
	if from < 0 || to <= from {
		return 0
	}
	var sum int64
	for _, v := range buckets[from:to] {
		sum += v
	}
	return float64(sum) / float64(to-from)
}

// AddBuckets adds per-second counts b (bucket i is second i from the
// start), as [Timeline.Buckets] returns them: merging another process's
// timeline with the same start.
func (tl *Timeline) AddBuckets(b []int64) {
	tl.mu.Lock()
	for len(tl.buckets) < len(b) {
		tl.buckets = append(tl.buckets, 0)
	}
	for i, v := range b {
		tl.buckets[i] += v
	}
	tl.mu.Unlock()
}

// Values returns a copy of the recorded durations, in no particular order.
func (l *Latencies) Values() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.d)
}
