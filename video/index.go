package video

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
// (untracked Rooms, idxOnly Participants) exist only while indexed. SID
// strings are shared with the ledger, not copied.
const (
	idxHeld uint8 = 1 << iota // this Client holds its slot (HoldParticipant, CommitParticipant)
	idxConn                   // the callbacks or a reconciliation show it connected
	idxOnly                   // in the index only: the callbacks do not track it
)

// partRec is a Participant indexed in a Room: its SID, what the model
// knows of it (mark, identity hash) and its idx bits.
type partRec struct {
	sid string
	mark
	ident uint64 // identity hash (identHash), 0 when not known
	bits  uint8
}

// partView is what partLocked returns of a Participant: its mark and
// identity hash, and where it is indexed (room "" and bits 0 when not).
type partView struct {
	mark
	ident uint64
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
	if len(r.parts) >= bigRoom {
		if ix, ok := m.bigIdx[r.sid]; ok {
			if i, ok := ix[sid]; ok {
				return i
			}
			return -1
		}
	}
	for i := range r.parts {
		if r.parts[i].sid == sid {
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
	ix := make(map[string]int, len(r.parts))
	for i, rec := range r.parts {
		ix[rec.sid] = i
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
	r, ok := m.rooms[roomSID]
	if !ok {
		r = roomTrack{sid: roomSID, mark: untracked}
	}
	if i := m.recInLocked(r, participantSID); i >= 0 {
		r.parts[i].bits |= bits
		return
	}
	rec := partRec{sid: participantSID, bits: bits}
	if t, ok := m.parts[participantSID]; ok {
		rec.mark, rec.ident = t.mark, t.ident
		delete(m.parts, participantSID)
	} else {
		rec.bits |= idxOnly
	}
	r.parts = append(r.parts, rec)
	m.rooms[r.sid] = r
	if ix, ok := m.bigIdx[r.sid]; ok {
		ix[rec.sid] = len(r.parts) - 1
	} else if len(r.parts) >= bigRoom {
		m.reindexLocked(r)
	}
}

// unindexLocked drops bits from participantSID in roomSID, and it from the
// Room when it has neither idxHeld nor idxConn left. Requires mu held.
func (m *model) unindexLocked(roomSID, participantSID string, bits uint8) {
	r, ok := m.rooms[roomSID]
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
	m.unroomLocked(r.parts[i])
	last := len(r.parts) - 1
	r.parts[i] = r.parts[last]
	r.parts[last] = partRec{}
	r.parts = r.parts[:last]
	if ix, ok := m.bigIdx[r.sid]; ok {
		delete(ix, participantSID)
		if i < last {
			ix[r.parts[i].sid] = i
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
	delete(m.heldIn, rec.sid)
	if rec.bits&idxOnly == 0 {
		m.parts[rec.sid] = partTrack{mark: rec.mark, ident: rec.ident}
	}
}

// storeRoomLocked stores r, or forgets it if only the index knew it and it
// lists nobody.
func (m *model) storeRoomLocked(r roomTrack) {
	if len(r.parts) == 0 {
		r.parts = nil
		delete(m.bigIdx, r.sid)
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
	for _, rec := range r.parts {
		if rec.bits&bits != 0 {
			out = append(out, indexed{sid: rec.sid, bits: rec.bits & bits})
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
	for _, rec := range m.rooms[roomSID].parts {
		if rec.bits&idxConn != 0 {
			return true
		}
	}
	return false
}
