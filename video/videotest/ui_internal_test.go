package videotest

import (
	"strconv"
	"testing"
)

// BenchmarkInspectorRoomsLocked measures how long one rendering of the
// inspector holds Server.mu to pick a page of 50 among 10,000 in-progress
// Rooms: the first page, the last, and a filter (which walks them all).
func BenchmarkInspectorRoomsLocked(b *testing.B) {
	const n = 10000
	s, err := newServer(Options{AdHocRooms: true, ConcurrentRooms: n + 1, ConcurrentParticipants: n + 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	for i := range n {
		if _, err := s.Connect("room-"+strconv.Itoa(i), "p"); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		q    uiQuery
		want int
	}{
		{"first", uiQuery{Page: 1}, n},
		{"last", uiQuery{Page: n / uiPageSize}, n},
		{"filter", uiQuery{Page: 1, Q: "room-1"}, 1111},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				s.mu.Lock()
				page, matched := s.uiRoomsLocked(bc.q)
				s.mu.Unlock()
				if len(page) != uiPageSize || matched != bc.want {
					b.Fatalf("page of %d, %d matched, want 50 of %d", len(page), matched, bc.want)
				}
			}
		})
	}
}
