package video

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestBigRoomIndex: a Room past bigRoom Participants finds each by SID
// through its index, which stays right through appends, removals (which
// move the last one), a take of the whole Room and shrinking back.
func TestBigRoomIndex(t *testing.T) {
	var m model
	m.init()
	const room = "RM0123456789abcdef0123456789abcdef"
	rng := rand.New(rand.NewPCG(1, 2))
	live := map[string]bool{}
	check := func(step string) {
		t.Helper()
		r, _ := m.getRoom(room)
		if len(r.parts) != len(live) {
			t.Fatalf("%s: %d indexed, want %d", step, len(r.parts), len(live))
		}
		_, big := m.bigIdx[room]
		if big != (len(r.parts) >= bigRoom) && !(big && len(r.parts) >= bigRoom/2) {
			t.Fatalf("%s: big index %v at %d participants", step, big, len(r.parts))
		}
		for sid := range live {
			i := m.recInLocked(r, sid)
			if i < 0 || m.sidLocked(r.parts[i].pid()) != sid {
				t.Fatalf("%s: %s found at %d", step, sid, i)
			}
		}
		if m.recInLocked(r, "PAnot-there") != -1 {
			t.Fatalf("%s: a stranger found", step)
		}
	}
	for i := range 300 {
		sid := fmt.Sprintf("PA%032x", i)
		m.indexLocked(room, sid, idxHeld)
		live[sid] = true
		if i%37 == 0 {
			check(fmt.Sprintf("after %d", i+1))
		}
	}
	check("filled")
	for sid := range live {
		if rng.IntN(3) > 0 {
			m.unindexLocked(room, sid, idxHeld)
			delete(live, sid)
		}
	}
	check("after removals")
	for sid := range live {
		if len(live) <= bigRoom/2-1 {
			break
		}
		m.unindexLocked(room, sid, idxHeld)
		delete(live, sid)
	}
	check("shrunk")
	for i := range 100 {
		sid := fmt.Sprintf("PB%032x", i)
		m.indexLocked(room, sid, idxConn)
		live[sid] = true
	}
	check("grown again")
	kept := 0
	for sid := range live {
		if sid[1] == 'A' && rng.IntN(2) == 0 {
			m.indexLocked(room, sid, idxConn) // keeps a bit through the take
			kept++
		}
	}
	if kept == 0 {
		t.Fatal("no participant keeps a bit through the take")
	}
	m.takeRoomLocked(room, idxHeld)
	for sid := range live {
		if r, _ := m.getRoom(room); sid[1] == 'A' && m.recInLocked(r, sid) < 0 {
			delete(live, sid) // had idxHeld only
		}
	}
	check("after a take")
	m.takeRoomLocked(room, idxHeld|idxConn)
	if ok := m.rooms.Has(room); ok || len(m.bigIdx) != 0 {
		t.Fatalf("emptied room kept (%v) or its index (%d)", ok, len(m.bigIdx))
	}
	if len(m.aliases) != 0 || len(m.aliasOf) != 0 {
		t.Fatalf("%d aliases (%d by SID) kept after every Participant left", len(m.aliases), len(m.aliasOf))
	}
}

// TestChooseRooms: a pass lists up to half its Rooms from those where drift
// is likely (callback activity since their last listing, known only through
// the Client's own calls, a JoinToken reservation outstanding, a Participant
// held but never seen connected), least recently listed first, and the rest
// round robin over the others, least recently listed first; all of them
// when the budget allows.
func TestChooseRooms(t *testing.T) {
	var m model
	m.init()
	sid := func(i int) string { return fmt.Sprintf("RM%032x", i) }
	var live []string
	for i := range 20 {
		r := roomTrack{sid: sid(i), roomState: roomState{mark: inProgress(1), listed: uint32(100 + i), flags: roomHeard}}
		m.putRoom(r)
		live = append(live, r.sid)
	}
	hot, own, tok, held := sid(19), sid(18), sid(17), sid(16)
	r, _ := m.getRoom(hot)
	r.flags |= roomHot
	m.putRoom(r)
	r, _ = m.getRoom(own)
	r.flags = roomOwn
	m.putRoom(r)
	m.toksOf["standup"] = 1
	m.nameLocked("standup", tok)
	m.indexLocked(held, "PA0123456789abcdef0123456789abcdef", idxHeld)

	if all, pri := m.chooseLocked(live, -1); len(all) != 20 || pri != 0 {
		t.Fatalf("unbounded: %d rooms, %d prioritised; want all 20", len(all), pri)
	}
	got, pri := m.chooseLocked(live, 6)
	want := []string{held, tok, own, sid(0), sid(1), sid(2)} // likely drift by listing age, then the oldest others
	if pri != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("6 of 20: %v (%d prioritised), want %v (3)", got, pri, want)
	}
	got, pri = m.chooseLocked(live, 4)
	if want := []string{held, tok, sid(0), sid(1)}; pri != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("4 of 20: %v (%d prioritised), want %v (2: half)", got, pri, want)
	}
	got, _ = m.chooseLocked(live[16:], 3) // no round robin left: likely ones take the budget
	if want := []string{held, tok, own}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("3 of the 4 likely: %v, want %v", got, want)
	}
}
