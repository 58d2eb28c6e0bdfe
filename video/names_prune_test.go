package video

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestNamesPruneLiveNeverDead: names of Twilio-shaped and odd Room SIDs,
// Rooms ending, names moving to new Rooms, all while pruning runs: a name
// of a Room in progress is never dropped, and once nothing changes, every
// name of an ended Room is gone within a bounded number of prunings.
func TestNamesPruneLiveNeverDead(t *testing.T) {
	t.Parallel()
	var m model
	m.init()
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string]string{} // name -> SID of its Room, in progress or not
	sidN := 0
	newSID := func() string {
		sidN++
		if rng.IntN(8) == 0 {
			return fmt.Sprintf("room-%d", sidN) // not Twilio's shape
		}
		return fmt.Sprintf("RM%032x", sidN)
	}
	live := func(sid string) bool {
		r, ok := m.getRoom(sid)
		return ok && !r.ended() && r.mark != untracked
	}
	check := func(step int) {
		t.Helper()
		for name, sid := range want {
			got, ok := m.nameSIDLocked(name)
			if live(sid) && (!ok || got != sid) {
				t.Fatalf("step %d: name %q of live Room %s: %q, %v", step, name, sid, got, ok)
			}
			if ok && got != sid {
				t.Fatalf("step %d: name %q finds %q, want %s", step, name, got, sid)
			}
		}
	}
	for step := range 20000 {
		name := fmt.Sprintf("n%d", rng.IntN(3000))
		switch rng.IntN(4) {
		case 0, 1: // a Room in progress under name (the old one, if any, ended)
			if old, ok := want[name]; ok && live(old) {
				m.endRoomTrackLocked(roomTrack{sid: old, roomState: roomState{mark: inProgress(1)}}, 2)
			}
			sid := newSID()
			m.putRoom(roomTrack{sid: sid, roomState: roomState{mark: inProgress(1)}})
			m.nameLocked(name, sid)
			want[name] = sid
		case 2: // its Room ends
			if sid, ok := want[name]; ok && live(sid) {
				m.endRoomTrackLocked(roomTrack{sid: sid, roomState: roomState{mark: inProgress(1)}}, 2)
			}
		case 3:
			m.pruneNamesLocked()
		}
		if step%97 == 0 {
			check(step)
		}
	}
	check(-1)
	n := m.names.Len() + len(m.oddNames)
	for range 4*n/pruneNames + 4096 {
		m.pruneNamesLocked()
	}
	for name, sid := range want {
		_, ok := m.nameSIDLocked(name)
		if ok != live(sid) {
			t.Errorf("name %q of Room %s (in progress %v): kept %v", name, sid, live(sid), ok)
		}
	}
}
