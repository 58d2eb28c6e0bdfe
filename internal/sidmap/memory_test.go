package sidmap

import (
	"fmt"
	"runtime"
	"testing"
)

// heapAfter returns the heap bytes that build leaves reachable, measured
// around it with the collector run before and after.
func heapAfter(build func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
}

// roomValue has the size of the model's per-Room value (40 bytes).
type roomValue [40]byte

// benchMemory reports the heap bytes per entry of a Table and of a Go map
// keyed by [16]byte holding the same n entries, each filled by Set one at
// a time as the Client fills them (no size hint), and the time of a Get.
func benchMemory[K comparable, V any](b *testing.B, n int, key func(int) K) {
	keys := make([]K, n)
	for i := range keys {
		keys[i] = key(i)
	}
	var v V
	b.Run("sidmap.Table", func(b *testing.B) {
		var per float64
		var tab *Table[K, V]
		for b.Loop() {
			b.StopTimer()
			tab = nil // the last round's is not counted as kept before
			per = heapAfter(func() any {
				tab = new(Table[K, V])
				for _, k := range keys {
					tab.Set(k, v)
				}
				return tab
			}) / float64(n)
			b.StartTimer()
			for _, k := range keys[:1000] {
				if _, ok := tab.Get(k); !ok {
					b.Fatal("missing")
				}
			}
		}
		b.ReportMetric(per, "B/entry")
	})
	b.Run("map", func(b *testing.B) {
		var per float64
		var m map[K]V
		for b.Loop() {
			b.StopTimer()
			m = nil
			per = heapAfter(func() any {
				m = make(map[K]V)
				for _, k := range keys {
					m[k] = v
				}
				return m
			}) / float64(n)
			b.StartTimer()
			for _, k := range keys[:1000] {
				if _, ok := m[k]; !ok {
					b.Fatal("missing")
				}
			}
		}
		b.ReportMetric(per, "B/entry")
	})
}

// BenchmarkMemoryVsMap puts a Table beside a plain Go map with the same
// keys and values, for the two shapes the Client keeps per tracked Room and
// Participant: the memory ledger's holdings (a SID's 16 bytes to an int64
// expiry; one entry per Room and one per Participant) and the model's Rooms
// (a SID's 16 bytes to a 40-byte value), and the Room names (a 64-bit hash to
// a SID's 16 bytes). Figures: B/entry (heap kept after filling) and ns/op
// (1,000 lookups).
func BenchmarkMemoryVsMap(b *testing.B) {
	id := func(i int) ID {
		k, ok := Exact("RM", sid(i))
		if !ok {
			panic("not a SID: " + sid(i))
		}
		return k
	}
	for _, n := range []int{1000, 10000, 20000, 100000} {
		b.Run(fmt.Sprintf("holdings/n=%d", n), func(b *testing.B) { benchMemory[ID, int64](b, n, id) })
		b.Run(fmt.Sprintf("rooms/n=%d", n), func(b *testing.B) { benchMemory[ID, roomValue](b, n, id) })
		b.Run(fmt.Sprintf("names/n=%d", n), func(b *testing.B) {
			benchMemory[uint64, ID](b, n, func(i int) uint64 { return uint64(i)*0x9e3779b97f4a7c15 + 1 })
		})
	}
}
