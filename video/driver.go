package video

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/video/internal/acct"
)

// driver runs the Client's Room accounting: every source of Room facts (the
// Client's own creates, the status callbacks, the Client's own ends of
// Rooms, Reconcile's listings, JoinToken's Room reservations, the clock)
// feeds one [acct.Model] under one lock, and the driver runs the store
// operations it decides against the Rooms ledger, outside the lock, in the
// goroutine that fed the input, reporting each result back. The Model never
// lets two operations on one key be out at once, so operations that run in
// different goroutines never cross on a key.
type driver struct {
	mu   sync.Mutex
	once sync.Once
	m    *acct.Model
	ids  uint64 // creates begun
}

// rooms returns the Client's Room accounting, made on first use.
func (c *Client) rooms() *driver {
	d := &c.events.drv
	d.once.Do(func() {
		d.m = acct.New(acct.Config{
			Window: int64(c.requestWindow() / time.Microsecond),
			Skew:   int64(maxSkew / time.Microsecond),
			TTL:    int64(c.reservationTTL / time.Microsecond),
			// Other clients may reserve in a store given with WithStore.
			Shared:   c.events.shared,
			TokenKey: roomResKey,
		})
	})
	return d
}

// newCreate returns an ID for a create.
func (d *driver) newCreate() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids++
	return d.ids
}

// creates returns how many creates are not settled.
func (d *driver) creates() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Creates()
}

// creating reports whether a create of Room name is not settled.
func (d *driver) creating(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Creating(name)
}

// tell applies ins, learnt from src, logging the store's errors: what the
// model's pruning says (tombstones forgotten, JoinToken reservations lapsed
// or dropped), what a Participant's callback says of its token.
func (d *driver) tell(ctx context.Context, c *Client, src quota.Source, ins []acct.Input) {
	for _, in := range ins {
		if _, err := d.feed(ctx, c, src, stamp(c.now()), in, nil); err != nil {
			d.warn(ctx, c, "releasing a reservation failed", err)
		}
	}
}

// feed tells the Model the local time now (µs: what it learns is learnt
// then, and reservations of unknown outcome past their TTL lapse), feeds it
// in, and runs the operations it decides, and those their results decide,
// in this goroutine. own, if not nil,
// runs the operations that are the caller's (it reports false for the
// others): a Reserve is always the caller's own reservation (it may wait
// for capacity, and the caller returns its refusal). It returns the first
// operation's error and how many reservations were given back.
func (d *driver) feed(ctx context.Context, c *Client, src quota.Source, now int64, in acct.Input, own func(acct.Op) (bool, error)) (released int, err error) {
	d.mu.Lock()
	ops := d.m.Apply(acct.Tick{Now: now})
	ops = append(ops, d.m.Apply(in)...)
	d.mu.Unlock()
	for len(ops) > 0 {
		op := ops[0]
		ops = ops[1:]
		oerr := d.exec(ctx, c, src, op, own)
		if oerr != nil && err == nil {
			err = oerr
		}
		if oerr == nil && op.Kind == acct.Release && !validSID("RM", op.Key) {
			released++
		}
		d.mu.Lock()
		ops = append(ops, d.m.Apply(acct.Done{ID: op.ID, OK: oerr == nil})...)
		d.mu.Unlock()
	}
	return released, err
}

// exec runs op against the Rooms ledger. After Close the ledger refuses
// operations and give-backs and commits go to the store directly (no
// threshold event is delivered after Close): a shared store must not keep a
// slot for a call that Close ended.
func (d *driver) exec(ctx context.Context, c *Client, src quota.Source, op acct.Op, own func(acct.Op) (bool, error)) error {
	if own != nil {
		if mine, err := own(op); mine {
			return err
		}
	}
	bg, cancel := c.storeCtx(ctx)
	defer cancel()
	switch op.Kind {
	case acct.Reserve:
		return errors.New("video: a Room reservation with nobody to make it")
	case acct.Commit:
		err := c.ledger.Commit(bg, quota.Rooms, op.Key, op.To, src)
		if errors.Is(err, quota.ErrClosed) {
			_, err = c.store.Commit(bg, c.accountSID, backend.Resource(quota.Rooms), op.Key, op.To, nil, quota.MaxHold)
		}
		return err
	case acct.Hold:
		return c.ledger.Hold(bg, quota.Rooms, op.Key, src)
	case acct.Release:
		err := c.ledger.Release(bg, quota.Rooms, op.Key, src)
		if errors.Is(err, quota.ErrClosed) {
			_, err = c.store.Release(bg, c.accountSID, backend.Resource(quota.Rooms), op.Key, nil)
		}
		return err
	}
	return nil
}

// ---- the Client's own creates ----

// answered settles create id, whose Room is sid (name): the driver
// turns its reservation into the Room's holding. It reports whether the
// Room is counted (false: it ended before its answer arrived). On a store
// error the reservation stays pending until it lapses.
func (d *driver) answered(ctx context.Context, c *Client, id uint64, sid, name string) bool {
	m := c.model()
	sid = strings.Clone(sid)
	st := m.stripe(sid)
	st.Lock()
	defer st.Unlock()
	if _, err := d.feed(ctx, c, quota.SourceLocal, stamp(c.now()), acct.Answered{ID: id, SID: sid}, nil); err != nil {
		d.warn(ctx, c, "committing a room failed", err, slog.String("room", sid))
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, known := m.getRoom(sid); known && r.ended() {
		return false // ended (callbacks) before its answer arrived
	}
	m.trackOwnRoomLocked(c, sid, name)
	return true
}

// unknown keeps the reservation of create id, whose outcome is
// unknown, for the sources that can settle it (see the acct package).
func (d *driver) unknown(ctx context.Context, c *Client, id uint64) {
	now := stamp(c.now())
	if _, err := d.feed(ctx, c, quota.SourceLocal, now, acct.Unknown{ID: id, Sent: now}, nil); err != nil {
		d.warn(ctx, c, "committing a reservation under a room failed", err)
	}
}

// refused gives back the reservation of create id, which Twilio did
// not process (refused, never sent).
func (d *driver) refused(ctx context.Context, c *Client, id uint64) {
	if _, err := d.feed(ctx, c, quota.SourceLocal, stamp(c.now()), acct.Refused{ID: id}, nil); err != nil {
		d.warn(ctx, c, "releasing a reservation failed", err)
	}
}

// warn logs a store error the driver cannot return: the reservation it
// left lapses in the store.
func (d *driver) warn(ctx context.Context, c *Client, msg string, err error, attrs ...slog.Attr) {
	c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: "+msg, append(attrs, slog.String("error", err.Error()))...)
}

// reserving runs the Reserve operations with reserve.
func reserving(reserve func(key string) error) func(acct.Op) (bool, error) {
	return func(op acct.Op) (bool, error) {
		if op.Kind != acct.Reserve {
			return false, nil
		}
		return true, reserve(op.Key)
	}
}

// acctRooms turns a listing's Rooms into the Model's.
func acctRooms(rooms roomList) []acct.Room {
	out := make([]acct.Room, len(rooms))
	for i, r := range rooms {
		out[i] = acct.Room{SID: r.sid, Name: strings.Clone(r.name), Created: r.created}
	}
	return out
}
