package video

import (
	"context"
	"errors"
	"slices"
	"sync"

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
	if err := checkSID("ParticipantSid", "PA", participantSID); err != nil {
		return err
	}
	if err := c.ledger.Commit(ctx, quota.Participants, key, participantSID); err != nil {
		return err
	}
	c.parts.add(roomSID, participantSID)
	return nil
}

// HoldParticipant records participantSID in roomSID as connected, even past
// the quota (Twilio reports it connected, so it counts).
func (c *Client) HoldParticipant(ctx context.Context, roomSID, participantSID string) error {
	if err := checkSID("ParticipantSid", "PA", participantSID); err != nil {
		return err
	}
	if err := c.ledger.Hold(ctx, quota.Participants, participantSID); err != nil {
		return err
	}
	c.parts.add(roomSID, participantSID)
	return nil
}

// ReleaseParticipant gives back the Participant slot under key: a Participant
// SID (disconnected) or a reservation key (the token was never used).
// Releasing an unknown key changes nothing.
func (c *Client) ReleaseParticipant(ctx context.Context, key string) error {
	c.parts.remove(key)
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
	_, err := c.releaseRoom(ctx, roomSID, idxHeld)
	return err
}

// releaseRoom gives back the Room slot of roomSID and the slots of its
// Participants indexed with any of bits, and returns those, with their bits.
// On an error they stay indexed, so that releasing again releases them.
func (c *Client) releaseRoom(ctx context.Context, roomSID string, bits uint8) ([]indexed, error) {
	var errs []error
	taken := c.parts.takeRoom(roomSID, bits)
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
			c.parts.set(roomSID, p.sid, p.bits)
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

// participantIndex remembers which Participants this Client holds in which
// Room, so that completing a Room releases them. It only knows what this
// process saw; other processes sharing the store learn it from callbacks.
//
// It is also the status callback handler's record of which Participants the
// callbacks show connected in each Room (idxConn), so that the Room ->
// Participant relation is kept once. A Participant is indexed while it has
// a bit; SID strings are shared with the ledger, not copied.
type participantIndex struct {
	mu     sync.Mutex
	byRoom map[string][]string // room SID -> participant SIDs (a Room holds at most 50)
	part   map[string]idxEntry // participant SID -> its Room and bits
}

// Bits of an indexed Participant.
const (
	idxHeld uint8 = 1 << iota // this Client holds its slot (HoldParticipant, CommitParticipant)
	idxConn                   // the callbacks or a reconciliation show it connected
)

type idxEntry struct {
	room string
	bits uint8
}

// indexed is a Participant taken out of the index, with the bits it had.
type indexed struct {
	sid  string
	bits uint8
}

func (p *participantIndex) init() {
	p.byRoom = make(map[string][]string)
	p.part = make(map[string]idxEntry)
}

// add indexes participantSID in roomSID as held.
func (p *participantIndex) add(roomSID, participantSID string) {
	p.set(roomSID, participantSID, idxHeld)
}

// set adds bits to participantSID, indexed in roomSID. A Participant
// indexed in another Room is moved, with bits only.
func (p *participantIndex) set(roomSID, participantSID string, bits uint8) {
	if roomSID == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.part[participantSID]; ok {
		if e.room == roomSID {
			e.bits |= bits
			p.part[participantSID] = e
			return
		}
		p.clearLocked(participantSID, e.bits)
	}
	p.byRoom[roomSID] = append(p.byRoom[roomSID], participantSID)
	p.part[participantSID] = idxEntry{room: roomSID, bits: bits}
}

// remove drops participantSID's held bit.
func (p *participantIndex) remove(participantSID string) {
	p.clear(participantSID, idxHeld)
}

// clear drops bits from participantSID.
func (p *participantIndex) clear(participantSID string, bits uint8) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked(participantSID, bits)
}

// clearLocked drops bits from participantSID, and the Participant from the
// index when it has none left; requires p.mu held.
func (p *participantIndex) clearLocked(participantSID string, bits uint8) {
	e, ok := p.part[participantSID]
	if !ok {
		return
	}
	if e.bits &^= bits; e.bits != 0 {
		p.part[participantSID] = e
		return
	}
	delete(p.part, participantSID)
	sids := p.byRoom[e.room]
	if i := slices.Index(sids, participantSID); i >= 0 {
		sids[i] = sids[len(sids)-1]
		sids = sids[:len(sids)-1]
	}
	if len(sids) == 0 {
		delete(p.byRoom, e.room)
	} else {
		p.byRoom[e.room] = sids
	}
}

// takeRoom drops bits from every Participant of roomSID and returns those
// that had any of them, with the bits they had.
func (p *participantIndex) takeRoom(roomSID string, bits uint8) []indexed {
	p.mu.Lock()
	defer p.mu.Unlock()
	sids := p.byRoom[roomSID]
	var out []indexed
	kept := sids[:0]
	for _, sid := range sids {
		e := p.part[sid]
		if e.bits&bits != 0 {
			out = append(out, indexed{sid: sid, bits: e.bits & bits})
		}
		if e.bits &^= bits; e.bits == 0 {
			delete(p.part, sid)
		} else {
			p.part[sid] = e
			kept = append(kept, sid)
		}
	}
	if len(kept) == 0 {
		delete(p.byRoom, roomSID)
	} else {
		p.byRoom[roomSID] = kept
	}
	return out
}

// connected reports whether any Participant of roomSID has idxConn.
func (p *participantIndex) connected(roomSID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sid := range p.byRoom[roomSID] {
		if p.part[sid].bits&idxConn != 0 {
			return true
		}
	}
	return false
}

// roomOf returns the Room the index holds participantSID in, or "".
func (p *participantIndex) roomOf(participantSID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.part[participantSID].room
}
