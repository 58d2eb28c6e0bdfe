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
	_, err := c.releaseRoom(ctx, roomSID)
	return err
}

// releaseRoom is ReleaseRoom returning the Participants it released. On an
// error they stay in the index, so that releasing again releases them.
func (c *Client) releaseRoom(ctx context.Context, roomSID string) ([]string, error) {
	var errs []error
	sids := c.parts.takeRoom(roomSID)
	for _, p := range sids {
		if err := c.ledger.Release(ctx, quota.Participants, p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.ledger.Release(ctx, quota.Rooms, roomSID); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		for _, p := range sids {
			c.parts.add(roomSID, p)
		}
		return nil, err
	}
	return sids, nil
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
// It is the one record of the Room -> Participant relation: the status
// callback handler asks it whether a Room is empty. SID strings are shared
// with the ledger, not copied.
type participantIndex struct {
	mu     sync.Mutex
	byRoom map[string][]string // room SID -> participant SIDs (a Room holds at most 50)
	room   map[string]string   // participant SID -> room SID
}

func (p *participantIndex) init() {
	p.byRoom = make(map[string][]string)
	p.room = make(map[string]string)
}

func (p *participantIndex) add(roomSID, participantSID string) {
	if roomSID == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.room[participantSID]; ok {
		if r == roomSID {
			return
		}
		p.removeLocked(participantSID)
	}
	p.byRoom[roomSID] = append(p.byRoom[roomSID], participantSID)
	p.room[participantSID] = roomSID
}

func (p *participantIndex) remove(participantSID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(participantSID)
}

// removeLocked drops participantSID from the index; requires p.mu held.
func (p *participantIndex) removeLocked(participantSID string) {
	r, ok := p.room[participantSID]
	if !ok {
		return
	}
	delete(p.room, participantSID)
	sids := p.byRoom[r]
	if i := slices.Index(sids, participantSID); i >= 0 {
		sids[i] = sids[len(sids)-1]
		sids = sids[:len(sids)-1]
	}
	if len(sids) == 0 {
		delete(p.byRoom, r)
	} else {
		p.byRoom[r] = sids
	}
}

func (p *participantIndex) takeRoom(roomSID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	sids := p.byRoom[roomSID]
	if len(sids) == 0 {
		return nil
	}
	for _, sid := range sids {
		delete(p.room, sid)
	}
	delete(p.byRoom, roomSID)
	return sids
}

// count returns how many Participants the index holds in roomSID.
func (p *participantIndex) count(roomSID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byRoom[roomSID])
}

// roomOf returns the Room the index holds participantSID in, or "".
func (p *participantIndex) roomOf(participantSID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.room[participantSID]
}

// retain drops the Participants for which keep reports false.
func (p *participantIndex) retain(keep func(participantSID string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for sid := range p.room {
		if !keep(sid) {
			p.removeLocked(sid)
		}
	}
}
