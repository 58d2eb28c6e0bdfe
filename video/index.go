package video

import (
	"encoding/binary"
	"strings"

	"github.com/videoquota/videoquota/internal/sidmap"
)

// The Room -> Participant index: which Participants this Client holds in
// which Room, so that completing a Room releases them (idxHeld), and which
// ones the status callbacks or a reconciliation show connected (idxConn).
// It only knows what this process saw; other processes sharing the store
// learn it from callbacks. It is kept in the model's maps, under its mutex:
// a Participant indexed in a Room lives in that Room's roomTrack (a
// partRec, at most 50 in a Room), with what the model knows of it; one
// that is not (ended, remembered for late events) lives in the model's
// parts map. Participants are found through their Room, which every
// callback and listing names. Entries the callbacks do not track
// (untracked Rooms, idxOnly Participants) exist only while indexed. The
// Rooms' tracks and the partRecs hold SIDs in 16 bytes (internal/sidmap,
// pid), not as strings; the maps of ended or held Participants (parts,
// heldIn) and the big Rooms' index (bigIdx) are keyed by strings.
const (
	idxHeld uint8 = 1 << iota // this Client holds its slot (HoldParticipant, CommitParticipant)
	idxConn                   // the callbacks or a reconciliation show it connected
	idxOnly                   // in the index only: the callbacks do not track it
)

// idxAlias marks a partRec whose id is an alias (see pidLocked), not a
// SID's bytes.
const idxAlias uint8 = 1 << 7

// partRec is a Participant indexed in a Room: its SID in 16 bytes (see
// pid), what the model knows of it (mark, identity hash) and its idx bits.
type partRec struct {
	id sidmap.ID
	mark
	ident uint32 // identity hash (identHash), 0 when not known
	bits  uint8  // idx bits, and idxAlias
}

// pid is a Participant SID as the index holds it: the 16 bytes of a SID
// as Twilio writes it ("PA" and 32 lower-case hex digits), or, for any
// other string (which the public slot methods and a listing may give),
// the number of an alias the model keeps with the string.
type pid struct {
	id    sidmap.ID
	alias uint8 // idxAlias or 0
}

func (r *partRec) pid() pid { return pid{r.id, r.bits & idxAlias} }

// aliasRec is the string of an alias pid and the partRecs that use it.
type aliasRec struct {
	sid  string
	refs int
}

// pidLocked returns the pid of Participant sid, making an alias if sid is
// not of Twilio's shape and make is set; ok is false when there is none.
// Requires mu held.
func (m *model) pidLocked(sid string, make bool) (pid, bool) {
	if id, ok := m.pa.Exact("PA", sid); ok {
		return pid{id: id}, true
	}
	if id, ok := m.aliasOf[sid]; ok {
		return pid{id, idxAlias}, true
	}
	if !make {
		return pid{}, false
	}
	m.aliasN++
	var id sidmap.ID
	binary.BigEndian.PutUint64(id[8:], m.aliasN)
	sid = strings.Clone(sid)
	m.aliasOf[sid] = id
	m.aliases[id] = aliasRec{sid: sid}
	return pid{id, idxAlias}, true
}

// sidLocked returns the SID of p. Requires mu held.
func (m *model) sidLocked(p pid) string {
	if p.alias != 0 {
		return m.aliases[p.id].sid
	}
	return p.id.String("PA")
}

// aliasRefLocked counts a partRec more (d 1) or less (d -1) using p,
// forgetting the alias when none does. Requires mu held.
func (m *model) aliasRefLocked(p pid, d int) {
	if p.alias == 0 {
		return
	}
	a := m.aliases[p.id]
	if a.refs += d; a.refs > 0 {
		m.aliases[p.id] = a
		return
	}
	delete(m.aliases, p.id)
	delete(m.aliasOf, a.sid)
}

// partView is what partLocked returns of a Participant: its mark and
// identity hash, and where it is indexed (room "" and bits 0 when not).
type partView struct {
	mark
	ident uint32
	room  string
	bits  uint8
}

// indexed is a Participant taken out of the index, with the bits it had.
type indexed struct {
	sid  string
	bits uint8
}

// bigRoom is the number of Participants from which a Room's are also
// indexed by SID (bigIdx), so that finding one stays O(1): Twilio's Rooms
// hold at most 50 (large Rooms about 100), but the public slot methods take
// any number.
const bigRoom = 64

// recInLocked returns the index of Participant sid in r.parts, -1 if not
// there. Requires mu held.
func (m *model) recInLocked(r roomTrack, sid string) int {
	p, ok := m.pidLocked(sid, false)
	if !ok {
		return -1
	}
	return m.pidInLocked(r, p)
}

// pidInLocked is recInLocked for a pid. Requires mu held.
func (m *model) pidInLocked(r roomTrack, p pid) int {
	if len(r.parts) >= bigRoom {
		if ix, ok := m.bigIdx[r.sid]; ok {
			if i, ok := ix[p]; ok {
				return i
			}
			return -1
		}
	}
	for i := range r.parts {
		if r.parts[i].id == p.id && r.parts[i].bits&idxAlias == p.alias {
			return i
		}
	}
	return -1
}

// reindexLocked rebuilds (or drops) the SID index of r's Participants
// after its parts changed other than by one append or removal.
func (m *model) reindexLocked(r roomTrack) {
	if len(r.parts) < bigRoom {
		delete(m.bigIdx, r.sid)
		return
	}
	ix := make(map[pid]int, len(r.parts))
	for i := range r.parts {
		ix[r.parts[i].pid()] = i
	}
	m.bigIdx[r.sid] = ix
}

// indexLocked adds bits to participantSID, indexed in roomSID, moving it
// there from the parts map if the model tracked it unindexed. Requires mu
// held.
func (m *model) indexLocked(roomSID, participantSID string, bits uint8) {
	if roomSID == "" {
		return
	}
	r, ok := m.getRoom(roomSID)
	if !ok {
		r.mark = untracked
	}
	p, _ := m.pidLocked(participantSID, true)
	if i := m.pidInLocked(r, p); i >= 0 {
		r.parts[i].bits |= bits
		return
	}
	m.aliasRefLocked(p, 1)
	rec := partRec{id: p.id, bits: bits | p.alias}
	if t, ok := m.parts[participantSID]; ok {
		rec.mark, rec.ident = t.mark, t.ident
		delete(m.parts, participantSID)
	} else {
		rec.bits |= idxOnly
	}
	r.parts = append(r.parts, rec)
	m.putRoom(r)
	if ix, ok := m.bigIdx[r.sid]; ok {
		ix[p] = len(r.parts) - 1
	} else if len(r.parts) >= bigRoom {
		m.reindexLocked(r)
	}
}

// unindexLocked drops bits from participantSID in roomSID, and it from the
// Room when it has neither idxHeld nor idxConn left. Requires mu held.
func (m *model) unindexLocked(roomSID, participantSID string, bits uint8) {
	r, ok := m.getRoom(roomSID)
	if !ok {
		return
	}
	i := m.recInLocked(r, participantSID)
	if i < 0 {
		return
	}
	if r.parts[i].bits &^= bits; r.parts[i].bits&(idxHeld|idxConn) != 0 {
		return
	}
	gone := r.parts[i].pid()
	m.unroomLocked(r.parts[i])
	last := len(r.parts) - 1
	r.parts[i] = r.parts[last]
	r.parts[last] = partRec{}
	r.parts = r.parts[:last]
	if ix, ok := m.bigIdx[r.sid]; ok {
		delete(ix, gone)
		if i < last {
			ix[r.parts[i].pid()] = i
		}
		if len(r.parts) < bigRoom/2 {
			delete(m.bigIdx, r.sid)
		}
	}
	m.storeRoomLocked(r)
}

// unroomLocked keeps what the model knows of rec, taken out of its Room, in
// the parts map, or forgets it if only the index knew it.
func (m *model) unroomLocked(rec partRec) {
	sid := m.sidLocked(rec.pid())
	m.aliasRefLocked(rec.pid(), -1)
	delete(m.heldIn, sid)
	if rec.bits&idxOnly == 0 {
		m.parts[sid] = partTrack{mark: rec.mark, ident: rec.ident}
	}
}

// storeRoomLocked stores r, or forgets it if only the index knew it and it
// lists nobody.
func (m *model) storeRoomLocked(r roomTrack) {
	if len(r.parts) == 0 {
		r.parts = nil
		delete(m.bigIdx, r.sid)
		if r.mark == untracked {
			m.rooms.Delete(r.sid)
			return
		}
	}
	m.putRoom(r)
}

// takeRoomLocked drops bits from every Participant of roomSID and returns
// those that had any of them, with the bits they had. Requires mu held.
func (m *model) takeRoomLocked(roomSID string, bits uint8) []indexed {
	r, ok := m.getRoom(roomSID)
	if !ok {
		return nil
	}
	var out []indexed
	kept := r.parts[:0]
	for _, rec := range r.parts {
		if rec.bits&bits != 0 {
			out = append(out, indexed{sid: m.sidLocked(rec.pid()), bits: rec.bits & bits})
		}
		if rec.bits &^= bits; rec.bits&(idxHeld|idxConn) != 0 {
			kept = append(kept, rec)
			continue
		}
		m.unroomLocked(rec)
	}
	clear(r.parts[len(kept):])
	r.parts = kept
	m.reindexLocked(r)
	m.storeRoomLocked(r)
	return out
}

// connectedLocked reports whether any Participant of roomSID has idxConn.
func (m *model) connectedLocked(roomSID string) bool {
	r, _ := m.getRoom(roomSID)
	for _, rec := range r.parts {
		if rec.bits&idxConn != 0 {
			return true
		}
	}
	return false
}
