package video

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/videoquota/videoquota/internal/sidmap"
)

// TestIndexAgainstMaps drives the Room -> Participant index with random
// index, unindex and take steps over Rooms and Participants of every SID
// shape (Twilio's, upper- and mixed-case hex, other strings), the same
// Participant in several Rooms and Rooms past bigRoom, and compares it
// after every step with a map of maps; no alias outlives the last
// Participant record using it.
func TestIndexAgainstMaps(t *testing.T) {
	t.Parallel()
	rooms := []string{
		"RM0123456789abcdef0123456789abcdef", "RMfedcba9876543210fedcba9876543210",
		"RM0123456789ABCDEF0123456789ABCDEF", "room-by-name",
	}
	var parts []string
	for i := range 90 {
		hex := fmt.Sprintf("%032x", 0xa0b0c0+i)
		parts = append(parts, "PA"+hex)
		if i%3 == 0 {
			parts = append(parts, "PA"+strings.ToUpper(hex))
		}
		if i%10 == 0 {
			parts = append(parts, "PA"+hex[:31]+"F", fmt.Sprintf("not-a-sid-%d", i))
		}
	}
	bitsOf := []uint8{idxHeld, idxConn, idxHeld | idxConn}
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 3))
		var m model
		m.init()
		ref := map[string]map[string]uint8{}
		for step := range 20000 {
			room := rooms[r.IntN(len(rooms))]
			sid := parts[r.IntN(len(parts))]
			bits := bitsOf[r.IntN(3)]
			where := fmt.Sprintf("seed %d step %d", seed, step)
			switch op := r.IntN(100); {
			case op < 60-40*(step/10000%2): // fill, then drain, then fill again
				m.indexLocked(room, sid, bits)
				if ref[room] == nil {
					ref[room] = map[string]uint8{}
				}
				ref[room][sid] |= bits
			case op < 99:
				m.unindexLocked(room, sid, bits)
				if b, ok := ref[room][sid]; ok {
					if b &^= bits; b == 0 {
						delete(ref[room], sid)
					} else {
						ref[room][sid] = b
					}
				}
			default:
				var want []string
				for s, b := range ref[room] {
					if b&bits != 0 {
						want = append(want, fmt.Sprintf("%s/%d", s, b&bits))
					}
					if b &^= bits; b == 0 {
						delete(ref[room], s)
					} else {
						ref[room][s] = b
					}
				}
				var got []string
				for _, p := range m.takeRoomLocked(room, bits) {
					got = append(got, fmt.Sprintf("%s/%d", p.sid, p.bits))
				}
				sort.Strings(want)
				sort.Strings(got)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s: take(%s, %d) = %v, want %v", where, room, bits, got, want)
				}
			}
			if len(ref[room]) == 0 {
				delete(ref, room)
			}
			if step%16 == 0 || step == 19999 {
				checkIndex(t, where, &m, ref) // every step costs a minute under -race
			}
		}
	}
}

func checkIndex(t *testing.T, where string, m *model, ref map[string]map[string]uint8) {
	t.Helper()
	if m.rooms.Len() != len(ref) {
		t.Fatalf("%s: %d Rooms kept, want %d", where, m.rooms.Len(), len(ref))
	}
	aliased := map[string]bool{}
	for room, ps := range ref {
		r, ok := m.getRoom(room)
		if !ok || len(r.parts) != len(ps) {
			t.Fatalf("%s: Room %s kept %v with %d Participants, want %d", where, room, ok, len(r.parts), len(ps))
		}
		if _, big := m.bigIdx[room]; len(r.parts) >= bigRoom && !big {
			t.Fatalf("%s: Room %s of %d Participants has no big index", where, room, len(r.parts))
		}
		for sid, bits := range ps {
			i := m.recInLocked(r, sid)
			if i < 0 || m.sidLocked(r.parts[i].pid()) != sid || r.parts[i].bits&(idxHeld|idxConn) != bits {
				t.Fatalf("%s: %s in %s at %d, want bits %d", where, sid, room, i, bits)
			}
			if _, ok := sidmap.Exact("PA", sid); !ok {
				aliased[sid] = true
			}
		}
	}
	if len(m.aliases) != len(aliased) || len(m.aliasOf) != len(aliased) {
		t.Fatalf("%s: %d aliases (%d by SID) kept, want %d", where, len(m.aliases), len(m.aliasOf), len(aliased))
	}
	if len(m.parts) != 0 {
		t.Fatalf("%s: %d Participants left outside the index, which knew them only", where, len(m.parts))
	}
}
