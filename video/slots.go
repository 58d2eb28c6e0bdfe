package video

import (
	"context"
	"errors"
	"math"
	"slices"

	"github.com/videoquota/videoquota/quota"
)

// Participant slots. Participants join through the client SDKs, not through
// REST, so the ledger learns of them from access tokens (reserve), status
// callbacks (commit, release) and REST responses (release). The methods below
// are the seam for those handlers; CreateRoom and the room-completing calls
// manage Room slots themselves.

// ParticipantReservationKey returns the ledger key under which a slot is
// reserved for identity joining room (a Room SID or UniqueName) before Twilio
// assigns the Participant SID.
func ParticipantReservationKey(room, identity string) string {
	return "pending-participant:" + room + "/" + identity
}

// ReserveParticipant reserves a Participant slot under key (see
// [ParticipantReservationKey]), lapsing after the reservation TTL unless
// committed. When the quota is used up it returns a *quota.ExceededError at
// once, or waits for a slot (bounded by ctx) if the Client or ctx asked for
// it ([WithWaitForCapacity], [WaitForCapacity]).
func (c *Client) ReserveParticipant(ctx context.Context, key string) error {
	if key == "" {
		return &ValidationError{Param: "key", Reason: "empty reservation key"}
	}
	return c.reserve(ctx, quota.Participants, key)
}

// CommitParticipant turns the reservation under key into a slot held by
// participantSID in roomSID (a participant-connected callback). An unknown or
// lapsed reservation still records the holding.
func (c *Client) CommitParticipant(ctx context.Context, key, roomSID, participantSID string) error {
	if err := c.commitParticipantSlot(ctx, key, participantSID); err != nil {
		return err
	}
	c.index(roomSID, participantSID)
	return nil
}

// HoldParticipant records participantSID in roomSID as connected, even past
// the quota (Twilio reports it connected, so it counts).
func (c *Client) HoldParticipant(ctx context.Context, roomSID, participantSID string) error {
	if err := c.holdParticipantSlot(ctx, participantSID); err != nil {
		return err
	}
	c.index(roomSID, participantSID)
	return nil
}

func (c *Client) commitParticipantSlot(ctx context.Context, key, participantSID string) error {
	if err := checkSID("ParticipantSid", "PA", participantSID); err != nil {
		return err
	}
	return c.ledger.Commit(ctx, quota.Participants, key, participantSID)
}

func (c *Client) holdParticipantSlot(ctx context.Context, participantSID string) error {
	if err := checkSID("ParticipantSid", "PA", participantSID); err != nil {
		return err
	}
	return c.ledger.Hold(ctx, quota.Participants, participantSID)
}

// index records participantSID in roomSID as held by this Client.
func (c *Client) index(roomSID, participantSID string) {
	st := c.eventState()
	st.mu.Lock()
	st.indexLocked(roomSID, participantSID, idxHeld)
	st.mu.Unlock()
}

// ReleaseParticipant gives back the Participant slot under key: a Participant
// SID (disconnected) or a reservation key (the token was never used).
// Releasing an unknown key changes nothing.
func (c *Client) ReleaseParticipant(ctx context.Context, key string) error {
	st := c.eventState()
	st.mu.Lock()
	st.unindexLocked(key, idxHeld)
	st.mu.Unlock()
	return c.ledger.Release(ctx, quota.Participants, key)
}

// HoldRoom records roomSID as in progress, even past the quota (a
// room-created callback for an ad-hoc Room).
func (c *Client) HoldRoom(ctx context.Context, roomSID string) error {
	if err := checkSID("RoomSid", "RM", roomSID); err != nil {
		return err
	}
	return c.ledger.Hold(ctx, quota.Rooms, roomSID)
}

// ReleaseRoom gives back the Room slot of roomSID (the Room ended) and the
// slots of the Participants this Client knew in it.
func (c *Client) ReleaseRoom(ctx context.Context, roomSID string) error {
	st := c.eventState()
	st.mu.Lock()
	defer st.mu.Unlock()
	_, err := st.releaseRoomLocked(ctx, c, roomSID, idxHeld)
	return err
}

// releaseRoomLocked gives back the Room slot of roomSID and the slots of its
// Participants indexed with any of bits, and returns those, with their bits.
// On an error they stay indexed, so that releasing again releases them.
// Requires s.mu held.
func (s *eventState) releaseRoomLocked(ctx context.Context, c *Client, roomSID string, bits uint8) ([]indexed, error) {
	var errs []error
	taken := s.takeRoomLocked(roomSID, bits)
	for _, p := range taken {
		if err := c.ledger.Release(ctx, quota.Participants, p.sid); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.ledger.Release(ctx, quota.Rooms, roomSID); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		for _, p := range taken {
			s.indexLocked(roomSID, p.sid, p.bits)
		}
		return nil, err
	}
	return taken, nil
}

// reserve takes a slot of res under key, waiting for one if asked to.
func (c *Client) reserve(ctx context.Context, res quota.Resource, key string) error {
	var err error
	if c.waits(ctx) {
		err = c.ledger.ReserveWait(ctx, res, key, c.reservationTTL)
	} else {
		err = c.ledger.Reserve(ctx, res, key, c.reservationTTL)
	}
	if err != nil {
		var ex *quota.ExceededError
		if errors.As(err, &ex) {
			c.stats.res[res].refused.Add(1)
		}
	}
	return err
}

// The Room -> Participant index: which Participants this Client holds in
// which Room, so that completing a Room releases them (idxHeld), and which
// ones the status callbacks or a reconciliation show connected (idxConn).
// It only knows what this process saw; other processes sharing the store
// learn it from callbacks. It is kept in eventState's maps, under its mutex:
// a roomTrack lists its indexed Participants, a partTrack names its Room.
// Entries the callbacks do not track (untracked Rooms, idxOnly
// Participants) exist only while indexed. SID strings are shared with the
// ledger, not copied.
const (
	idxHeld uint8 = 1 << iota // this Client holds its slot (HoldParticipant, CommitParticipant)
	idxConn                   // the callbacks or a reconciliation show it connected
	idxOnly                   // in the index only: the callbacks do not track it
)

// untracked marks a roomTrack that exists only for the index.
const untracked mark = math.MinInt64

// indexed is a Participant taken out of the index, with the bits it had.
type indexed struct {
	sid  string
	bits uint8
}

// indexLocked adds bits to participantSID, indexed in roomSID. A Participant
// indexed in another Room is moved, with bits only. Requires s.mu held.
func (s *eventState) indexLocked(roomSID, participantSID string, bits uint8) {
	if roomSID == "" {
		return
	}
	p, ok := s.parts[participantSID]
	if !ok {
		p.bits = idxOnly
	}
	if p.room == roomSID {
		p.bits |= bits
		s.parts[participantSID] = p
		return
	}
	if p.room != "" {
		s.dropFromRoomLocked(p.room, participantSID)
		p.bits &^= idxHeld | idxConn
	}
	r, ok := s.rooms[roomSID]
	if !ok {
		r = roomTrack{sid: roomSID, mark: untracked}
	}
	r.parts = append(r.parts, participantSID)
	s.rooms[r.sid] = r
	p.room, p.bits = r.sid, p.bits|bits
	s.parts[participantSID] = p
}

// unindexLocked drops bits from participantSID, and it from its Room when
// it has neither idxHeld nor idxConn left. Requires s.mu held.
func (s *eventState) unindexLocked(participantSID string, bits uint8) {
	p, ok := s.parts[participantSID]
	if !ok || p.room == "" {
		return
	}
	if p.bits &^= bits; p.bits&(idxHeld|idxConn) != 0 {
		s.parts[participantSID] = p
		return
	}
	s.dropFromRoomLocked(p.room, participantSID)
	s.unroomLocked(participantSID, p)
}

// unroomLocked stores p, out of any Room, or forgets it if only the index
// knew it.
func (s *eventState) unroomLocked(participantSID string, p partTrack) {
	if p.bits&idxOnly != 0 {
		delete(s.parts, participantSID)
		return
	}
	p.room, p.bits = "", 0
	s.parts[participantSID] = p
}

// dropFromRoomLocked removes participantSID from the list of roomSID.
func (s *eventState) dropFromRoomLocked(roomSID, participantSID string) {
	r, ok := s.rooms[roomSID]
	if !ok {
		return
	}
	if i := slices.Index(r.parts, participantSID); i >= 0 {
		r.parts[i] = r.parts[len(r.parts)-1]
		r.parts = r.parts[:len(r.parts)-1]
	}
	s.storeRoomLocked(r)
}

// storeRoomLocked stores r, or forgets it if only the index knew it and it
// lists nobody.
func (s *eventState) storeRoomLocked(r roomTrack) {
	if len(r.parts) == 0 {
		r.parts = nil
		if r.mark == untracked {
			delete(s.rooms, r.sid)
			return
		}
	}
	s.rooms[r.sid] = r
}

// takeRoomLocked drops bits from every Participant of roomSID and returns
// those that had any of them, with the bits they had. Requires s.mu held.
func (s *eventState) takeRoomLocked(roomSID string, bits uint8) []indexed {
	r, ok := s.rooms[roomSID]
	if !ok {
		return nil
	}
	var out []indexed
	kept := r.parts[:0]
	for _, sid := range r.parts {
		p := s.parts[sid]
		if p.bits&bits != 0 {
			out = append(out, indexed{sid: sid, bits: p.bits & bits})
		}
		if p.bits &^= bits; p.bits&(idxHeld|idxConn) != 0 {
			s.parts[sid] = p
			kept = append(kept, sid)
			continue
		}
		s.unroomLocked(sid, p)
	}
	r.parts = kept
	s.storeRoomLocked(r)
	return out
}

// connectedLocked reports whether any Participant of roomSID has idxConn.
func (s *eventState) connectedLocked(roomSID string) bool {
	for _, sid := range s.rooms[roomSID].parts {
		if s.parts[sid].bits&idxConn != 0 {
			return true
		}
	}
	return false
}
