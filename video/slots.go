package video

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/internal/acct"
)

// Participant and Room slots through the public seam. Participants join
// through the client SDKs, not through REST, so the ledger learns of them
// from access tokens (reserve), status callbacks (commit, release) and REST
// responses (release). [Client.StatusCallbackHandler] and [Client.JoinToken]
// do all of this; the methods below are for applications that learn of
// Rooms and Participants some other way. Each goes through the Client's
// model, like the handlers, and fails with [ErrClosed] after Close.

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
	if err := c.check(ctx); err != nil {
		return err
	}
	if key == "" {
		return &ValidationError{Param: "key", Reason: "empty reservation key"}
	}
	return c.reserve(ctx, quota.Participants, key, c.reservationTTL)
}

// CommitParticipant turns the reservation under key into a slot held by
// participantSID in roomSID (a participant-connected callback). An unknown or
// lapsed reservation still records the holding.
func (c *Client) CommitParticipant(ctx context.Context, key, roomSID, participantSID string) error {
	return c.holdParticipant(ctx, key, roomSID, participantSID)
}

// HoldParticipant records participantSID in roomSID as connected, even past
// the quota (Twilio reports it connected, so it counts).
func (c *Client) HoldParticipant(ctx context.Context, roomSID, participantSID string) error {
	return c.holdParticipant(ctx, "", roomSID, participantSID)
}

func (c *Client) holdParticipant(ctx context.Context, key, roomSID, participantSID string) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	if err := checkSID("ParticipantSid", "PA", participantSID); err != nil {
		return err
	}
	// Both are kept (heldIn, the ledger) while the Participant is held:
	// copies, not the caller's strings, which may share a request body's
	// memory.
	roomSID, participantSID = strings.Clone(roomSID), strings.Clone(participantSID)
	m := c.model()
	st := m.stripe(roomSID)
	st.Lock()
	defer st.Unlock()
	m.mu.Lock()
	m.recon.part(participantSID, roomSID, true)
	m.mu.Unlock()
	var err error
	if key != "" {
		err = c.ledger.Commit(ctx, quota.Participants, key, participantSID, quota.SourceLocal)
	} else {
		err = c.ledger.Hold(ctx, quota.Participants, participantSID, quota.SourceLocal)
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.indexLocked(roomSID, participantSID, idxHeld)
	if roomSID != "" {
		m.heldIn[participantSID] = roomSID
	}
	m.mu.Unlock()
	return nil
}

// ReleaseParticipant gives back the Participant slot under key: a Participant
// SID (disconnected) or a reservation key (the token was never used).
// Releasing an unknown key changes no count; a SID released is remembered
// ended by the store (backend.EndedTTL), so that a late connect of it, in
// any process sharing the store, holds nothing.
func (c *Client) ReleaseParticipant(ctx context.Context, key string) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	return c.releaseParticipant(ctx, key, quota.SourceLocal)
}

func (c *Client) releaseParticipant(ctx context.Context, key string, src quota.Source) error {
	m := c.model()
	m.mu.Lock()
	room := m.heldIn[key] // held through HoldParticipant or CommitParticipant
	m.mu.Unlock()
	st := m.stripe(room)
	if room == "" {
		st = m.stripe(key)
	}
	st.Lock()
	defer st.Unlock()
	m.mu.Lock()
	if _, ok := m.parts[key]; ok {
		m.recon.part(key, room, false)
	}
	m.mu.Unlock()
	if err := c.ledger.Release(ctx, quota.Participants, key, src); err != nil {
		return err
	}
	m.mu.Lock()
	m.unindexLocked(room, key, idxHeld)
	m.mu.Unlock()
	return nil
}

// HoldRoom records roomSID as in progress, even past the quota (a
// room-created callback for an ad-hoc Room).
func (c *Client) HoldRoom(ctx context.Context, roomSID string) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	if err := checkSID("RoomSid", "RM", roomSID); err != nil {
		return err
	}
	m := c.model()
	st := m.stripe(roomSID)
	st.Lock()
	defer st.Unlock()
	m.mu.Lock()
	m.recon.room(roomSID, true)
	m.mu.Unlock()
	if _, err := c.rooms().feed(ctx, c, quota.SourceLocal, stamp(c.now()), acct.Held{SID: strings.Clone(roomSID)}, nil); err != nil {
		return err
	}
	m.mu.Lock()
	m.trackOwnRoomLocked(c, roomSID, "")
	m.mu.Unlock()
	return nil
}

// ReleaseRoom gives back the Room slot of roomSID (the Room ended) and the
// slots of the Participants this Client knew in it.
func (c *Client) ReleaseRoom(ctx context.Context, roomSID string) error {
	if err := c.check(ctx); err != nil {
		return err
	}
	// The model remembers the Room ended (until pruned) under this string:
	// a copy, not the caller's, which may share a request body's memory.
	return c.endRoom(ctx, strings.Clone(roomSID), quota.SourceLocal)
}

// endRoom records that Room sid ended, learnt through src.
func (c *Client) endRoom(ctx context.Context, sid string, src quota.Source) error {
	m := c.model()
	st := m.stripe(sid)
	st.Lock()
	defer st.Unlock()
	_, err := m.endRoom(ctx, c, sid, 0, src)
	return err
}

// reserve takes a slot of res under key for ttl, waiting for one if the
// Client or ctx asked to, and counts local refusals in Usage.
func (c *Client) reserve(ctx context.Context, res quota.Resource, key string, ttl time.Duration) error {
	var err error
	if c.waits(ctx) {
		err = c.ledger.ReserveWait(ctx, res, key, ttl)
	} else {
		err = c.ledger.Reserve(ctx, res, key, ttl)
	}
	var ex *quota.ExceededError
	if errors.As(err, &ex) {
		c.stats.res[res].refused.Add(1)
	}
	if errors.Is(err, quota.ErrClosed) {
		return ErrClosed
	}
	return err
}

// check refuses a call on a closed Client or with a nil or ended ctx (as
// the standard library does).
func (c *Client) check(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// logWarn logs a failed ledger or model update at Warn, with attrs as
// key-value pairs.
func (c *Client) logWarn(ctx context.Context, msg string, err error, attrs ...string) {
	args := make([]slog.Attr, 0, 1+len(attrs)/2)
	for i := 0; i+1 < len(attrs); i += 2 {
		args = append(args, slog.String(attrs[i], attrs[i+1]))
	}
	args = append(args, slog.String("error", err.Error()))
	c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: "+msg, args...)
}
