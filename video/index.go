package video

import "slices"

// The Room -> Participant index: which Participants this Client holds in
// which Room, so that completing a Room releases them (idxHeld), and which
// ones the status callbacks or a reconciliation show connected (idxConn).
// It only knows what this process saw; other processes sharing the store
// learn it from callbacks. It is kept in the model's maps, under its mutex:
// a roomTrack lists its indexed Participants, a partTrack names its Room.
// Entries the callbacks do not track (untracked Rooms, idxOnly
// Participants) exist only while indexed. SID strings are shared with the
// ledger, not copied.
const (
	idxHeld uint8 = 1 << iota // this Client holds its slot (HoldParticipant, CommitParticipant)
	idxConn                   // the callbacks or a reconciliation show it connected
	idxOnly                   // in the index only: the callbacks do not track it
)

// indexed is a Participant taken out of the index, with the bits it had.
type indexed struct {
	sid  string
	bits uint8
}

// indexLocked adds bits to participantSID, indexed in roomSID. A Participant
// indexed in another Room is moved, with bits only. Requires mu held.
func (m *model) indexLocked(roomSID, participantSID string, bits uint8) {
	if roomSID == "" {
		return
	}
	p, ok := m.parts[participantSID]
	if !ok {
		p.bits = idxOnly
	}
	if p.room == roomSID {
		p.bits |= bits
		m.parts[participantSID] = p
		return
	}
	if p.room != "" {
		m.dropFromRoomLocked(p.room, participantSID)
		p.bits &^= idxHeld | idxConn
	}
	r, ok := m.rooms[roomSID]
	if !ok {
		r = roomTrack{sid: roomSID, mark: untracked}
	}
	r.parts = append(r.parts, participantSID)
	m.rooms[r.sid] = r
	p.room, p.bits = r.sid, p.bits|bits
	m.parts[participantSID] = p
}

// unindexLocked drops bits from participantSID, and it from its Room when
// it has neither idxHeld nor idxConn left. Requires mu held.
func (m *model) unindexLocked(participantSID string, bits uint8) {
	p, ok := m.parts[participantSID]
	if !ok || p.room == "" {
		return
	}
	if p.bits &^= bits; p.bits&(idxHeld|idxConn) != 0 {
		m.parts[participantSID] = p
		return
	}
	m.dropFromRoomLocked(p.room, participantSID)
	m.unroomLocked(participantSID, p)
}

// unroomLocked stores p, out of any Room, or forgets it if only the index
// knew it.
func (m *model) unroomLocked(participantSID string, p partTrack) {
	if p.bits&idxOnly != 0 {
		delete(m.parts, participantSID)
		return
	}
	p.room, p.bits = "", 0
	m.parts[participantSID] = p
}

// dropFromRoomLocked removes participantSID from the list of roomSID.
func (m *model) dropFromRoomLocked(roomSID, participantSID string) {
	r, ok := m.rooms[roomSID]
	if !ok {
		return
	}
	if i := slices.Index(r.parts, participantSID); i >= 0 {
		r.parts[i] = r.parts[len(r.parts)-1]
		r.parts = r.parts[:len(r.parts)-1]
	}
	m.storeRoomLocked(r)
}

// storeRoomLocked stores r, or forgets it if only the index knew it and it
// lists nobody.
func (m *model) storeRoomLocked(r roomTrack) {
	if len(r.parts) == 0 {
		r.parts = nil
		if r.mark == untracked {
			delete(m.rooms, r.sid)
			return
		}
	}
	m.rooms[r.sid] = r
}

// takeRoomLocked drops bits from every Participant of roomSID and returns
// those that had any of them, with the bits they had. Requires mu held.
func (m *model) takeRoomLocked(roomSID string, bits uint8) []indexed {
	r, ok := m.rooms[roomSID]
	if !ok {
		return nil
	}
	var out []indexed
	kept := r.parts[:0]
	for _, sid := range r.parts {
		p := m.parts[sid]
		if p.bits&bits != 0 {
			out = append(out, indexed{sid: sid, bits: p.bits & bits})
		}
		if p.bits &^= bits; p.bits&(idxHeld|idxConn) != 0 {
			m.parts[sid] = p
			kept = append(kept, sid)
			continue
		}
		m.unroomLocked(sid, p)
	}
	r.parts = kept
	m.storeRoomLocked(r)
	return out
}

// connectedLocked reports whether any Participant of roomSID has idxConn.
func (m *model) connectedLocked(roomSID string) bool {
	for _, sid := range m.rooms[roomSID].parts {
		if m.parts[sid].bits&idxConn != 0 {
			return true
		}
	}
	return false
}
