package video

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/internal/sidmap"
	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/video/internal/acct"
)

// The model: what a Client knows of its account's Rooms and Participants.
// The Rooms' ledger is decided by one state machine, fed by every source
// through the driver (driver.go, the acct package): the Client's own
// creates (rooms.go), the status callbacks (roomCreated, endRoom,
// participantConnected), JoinToken's Room reservations and Reconcile's
// listings. Unknown outcomes and how each is settled are the acct
// package's doc. The model keeps beside it what the Participants need: the
// Room tracks (in progress or ended, by SID, with the Participants indexed
// in them), the names of Rooms in progress, and the Participants' ledger,
// which it decides itself.
//
// A Client given a store ([WithStore]) shares it with other clients, which
// may hear the callbacks of what it made (one status callback URL spread
// over several processes): the Rooms' accounting then runs with
// acct.Config.Shared, and JoinToken reservations are kept under keys that
// are the same in every process (roomResKey, ParticipantReservationKey), so
// that whichever process hears a token's Participant connect commits them
// onto its SIDs (tokenKeys, acct.Joined).
//
// # Locks
//
// mu guards the maps and is never held across a store operation: a
// decision is taken under mu (taking the reservation it settles out of the
// maps), the store operation runs outside, and the result is recorded under
// mu again (or the decision undone). Events of one Room are serialised by
// that Room's stripe lock, held across their store operations, so that a
// connect and a disconnect of one Participant reach the store in order
// while other Rooms proceed. The driver's lock is taken under mu, never
// the other way round.
type model struct {
	mu        sync.Mutex
	rooms     sidmap.Map[roomState]                      // Room SID -> roomState; SIDs of Twilio's shape held as IDs, others as strings
	names     sidmap.Table[uint64, sidmap.ID]            // nameHash(UniqueName) -> the Room last known in progress under it (see nameLocked)
	oddNames  map[uint64]string                          // the same, for Rooms whose SID is not of Twilio's shape
	nameAt    int                                        // pruning cursor into names
	parts     map[string]partTrack                       // Participant SID -> (those not indexed in a Room)
	heldIn    map[string]string                          // Participant SID -> Room, for those held through the public slot methods
	bigIdx    map[string]map[pid]int                     // Room SID -> Participant -> index in its parts, for Rooms of bigRoom or more
	aliases   map[sidmap.ID]aliasRec                     // alias pid -> its SID (see pidLocked)
	aliasOf   map[string]sidmap.ID                       // SID -> alias pid
	aliasN    uint64                                     // aliases made
	pa        sidmap.Parser                              // Participant SIDs, the last remembered: an event asks for one several times
	drv       driver                                     // the Rooms' accounting (driver.go)
	roomToks  map[string]*tokRes                         // Room name -> JoinToken's Room reservation
	later     []acct.Input                               // what pruning tells the driver, once mu is released
	partToks  map[string]*tokRes                         // ParticipantReservationKey(room, identity) -> JoinToken's reservation
	toksOf    map[string]int                             // room (name or SID) -> JoinToken Participant reservations outstanding
	seen      dedupe                                     // status callback deliveries
	alerts    dedupe                                     // Debugger event SIDs and idempotency tokens
	recon     *reconWindow                               // non-nil while a Reconcile runs
	newest    int64                                      // newest Timestamp of a status callback applied (µs): the callbacks' clock
	ends      fifo[endedSID]                             // SIDs in the order they ended, for pruning
	tokQ      fifo[*tokRes]                              // JoinToken reservations, round robin, for pruning
	retention time.Duration                              // how long ended SIDs are remembered
	seed      maphash.Seed                               // identity hashes
	closer    closer                                     // WithCloseEmptyRooms
	reconLim  *rate.Limiter                              // Reconcile's share of the read quota, made on first use
	pollLim   *rate.Limiter                              // PollAlerts' read budget, made on first use
	reconMu   sync.Mutex                                 // one Reconcile at a time
	passes    uint32                                     // Reconcile passes started (the Rooms' listed clock)
	sleepFn   func(context.Context, time.Duration) error // tests: waits on a fake clock
	shared    bool                                       // other clients may reserve in the store (WithStore): acct.Config.Shared
	tokGen    uint64                                     // JoinToken Room reservations made (tokRes.gen)
	stripes   [64]sync.Mutex                             // per-Room serialisation of events
	once      sync.Once
}

func (m *model) init() {
	m.rooms.Prefix("RM")
	m.oddNames = make(map[uint64]string)
	m.parts = make(map[string]partTrack)
	m.heldIn = make(map[string]string)
	m.bigIdx = make(map[string]map[pid]int)
	m.aliases = make(map[sidmap.ID]aliasRec)
	m.aliasOf = make(map[string]sidmap.ID)
	m.roomToks = make(map[string]*tokRes)
	m.partToks = make(map[string]*tokRes)
	m.toksOf = make(map[string]int)
	m.seen.init(dedupeSize)
	m.alerts.init(dedupeSize)
	m.retention = DefaultCallbackRetention
	m.seed = maphash.MakeSeed()
	m.closer.init()
}

// model returns the Client's model, made on first use.
func (c *Client) model() *model {
	c.events.once.Do(c.events.init)
	return &c.events
}

// stripe returns the lock that serialises the events of Room sid.
func (m *model) stripe(sid string) *sync.Mutex {
	return &m.stripes[maphash.String(m.seed, sid)%uint64(len(m.stripes))]
}

// tokRes is a JoinToken reservation: a Room slot for a name not known in
// progress, or a Participant slot for a (room, identity).
type tokRes struct {
	created int64     // local time (µs) it was made
	id      string    // its key in the model: the room name, or ParticipantReservationKey(room, identity)
	key     string    // the ledger key: roomResKey(id) or id, the same in every process sharing the store, so that the callbacks any of them hears settle it (acct.Joined, tokenKeys)
	gen     uint64    // a Room reservation's minting, for acct.TokenDropped
	room    string    // the room as given to JoinToken (Participant reservations)
	exp     time.Time // the latest expiry of the tokens relying on it
	ready   chan struct{}
	err     error // the reservation's error, once ready is closed
	users   int   // JoinToken calls relying on it that have not returned
	made    bool  // a token relying on it was returned
}

// now is the model's clock for ends and pruning: the callbacks' clock once
// a callback was seen (a local clock that jumps then makes no current
// callback stale), else local time. Requires mu held.
func (m *model) nowLocked(c *Client) int64 {
	if m.newest != 0 {
		return m.newest
	}
	return stamp(c.now())
}

// identHash identifies a Participant identity without keeping it, in 32
// bits (so that a Participant's track fits 32 bytes), the low one set so
// that 0 means unknown: two identities share a hash with odds of 2^-31
// per comparison, which a seed made per Client keeps out of a caller's
// control. A shared hash makes JoinToken take the second identity for a
// rejoin of the first, reserving no Participant slot for it.
func (m *model) identHash(identity string) uint32 {
	if identity == "" {
		return 0
	}
	return uint32(maphash.String(m.seed, identity)) | 1
}

// maxSkew is how far Twilio's clock and the local one may disagree when an
// event is matched with a reservation by time, and how far ahead of the
// local clock an event's Timestamp may be before it is refused.
const maxSkew = time.Minute

func (t *tokRes) isReady() bool {
	select {
	case <-t.ready:
		return true
	default:
		return false
	}
}

// trackOwnRoomLocked records Room sid, created by the Client, as in
// progress under name. Requires mu held.
func (m *model) trackOwnRoomLocked(c *Client, sid, name string) {
	r, isNew := m.roomLocked(sid)
	if isNew {
		r.sid = strings.Clone(sid)
		// In progress since a time the callbacks' clock has not seen (as
		// for a Room learnt from a listing): its room-created, stamped by
		// Twilio before the answer arrived here, is not stale.
		r.mark = inProgress(0)
	}
	r.flags |= roomOwn
	m.putRoom(r)
	m.nameLocked(name, r.sid)
	m.recon.room(r.sid, true)
}

// ---- Room ends learnt from the Client's own calls ----

// roomEnded releases Room sid and the Participants known in it (the Room
// completed: a REST answer, a callback, the close-empty worker). src says
// how it was learnt; at is when it ended on the model's clock (0: now).
// Already ended Rooms change nothing. The caller holds sid's stripe.
func (m *model) endRoom(ctx context.Context, c *Client, sid string, at int64, src quota.Source) (stale bool, err error) {
	m.mu.Lock()
	r, _ := m.roomLocked(sid)
	if r.ended() {
		m.mu.Unlock()
		// Twilio's room-ended after the Client saw the Room end (a REST
		// completion) confirms it; a second one from Twilio is a repeat.
		return src == quota.SourceCallback && r.mark.at() == at, nil
	}
	taken := m.takeRoomLocked(sid, idxHeld|idxConn)
	m.recon.room(sid, false)
	for _, p := range taken {
		m.recon.part(p.sid, sid, false)
	}
	m.mu.Unlock()
	var errs []error
	for _, p := range taken {
		if p.bits&idxHeld != 0 || src != quota.SourceLocal {
			if err := c.ledger.Release(ctx, quota.Participants, p.sid, src); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := c.rooms().feed(ctx, c, src, stamp(c.now()), acct.RoomEnded{SID: sid}, nil); err != nil {
		errs = append(errs, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		for _, p := range taken {
			m.indexLocked(sid, p.sid, p.bits)
		}
		return false, err
	}
	if at == 0 {
		at = m.nowLocked(c)
	}
	for _, p := range taken {
		if _, known := m.partLocked("", p.sid); known {
			m.trackPartLocked("", p.sid, endedAt(at), 0)
		}
	}
	{
		// Remembered ended (until pruned), so that late events for it are
		// stale.
		r, _ = m.getRoom(sid)
		m.endRoomTrackLocked(r, at)
	}
	return false, nil
}

// ---- status callbacks ----

// applyRoomEvent updates the model and the ledger from e and reports whether
// e is new (not a duplicate delivery). It sets e.Stale when e arrived after
// a later event, or is older than the retention on the callbacks' clock.
func (m *model) applyRoomEvent(ctx context.Context, c *Client, e *RoomEvent, h *handlerConfig) (bool, error) {
	key := m.seen.deliveryHash(e)
	m.mu.Lock()
	if m.seen.hasHash(key) {
		m.mu.Unlock()
		return false, nil
	}
	ts := stamp(e.Timestamp)
	ref := m.newest // the callbacks' clock; local time until a callback was applied
	if ref == 0 {
		ref = stamp(c.now())
	}
	if !e.ledgerEvent() || ts < ref-int64(m.retention/time.Microsecond) {
		// Not a ledger event; or a replay, or a delivery so late that its
		// SID may be forgotten: applying it could resurrect a Participant
		// long gone.
		e.Stale = e.ledgerEvent()
		m.seen.addHash(key)
		m.mu.Unlock()
		return true, nil
	}
	m.internLocked(e)
	m.mu.Unlock()

	st := m.stripe(e.RoomSID)
	st.Lock()
	m.mu.Lock()
	dup := m.seen.hasHash(key) // a copy applied while this one waited
	m.mu.Unlock()
	if dup {
		st.Unlock()
		return false, nil
	}
	var err error
	var empty bool
	switch e.Event {
	case EventRoomCreated:
		err = m.roomCreated(ctx, c, e, ts)
	case EventRoomEnded:
		e.Stale, err = m.endRoom(ctx, c, e.RoomSID, max(ts, 1), quota.SourceCallback)
	case EventParticipantConnected:
		err = m.participantConnected(ctx, c, e, ts)
	case EventParticipantDisconnected:
		empty, err = m.participantDisconnected(ctx, c, e, ts)
	}
	if err != nil {
		st.Unlock()
		return false, err
	}
	// Seen before the stripe is released: a copy waiting for it is then a
	// duplicate.
	m.mu.Lock()
	m.seen.addHash(key)
	if !e.Stale {
		m.heardLocked(e)
	}
	m.newest = max(m.newest, ts)
	m.pruneLocked()
	later := m.later
	m.later = nil
	m.mu.Unlock()
	st.Unlock()
	c.rooms().tell(ctx, c, quota.SourceLocal, later)
	if empty && h.closeEmpty {
		m.closer.enqueue(c, e.RoomSID, c.now().Add(h.closeGrace))
	}
	return true, nil
}

// heardLocked records that a callback of e's Room was applied, and a
// Participant event there since its last listing. Requires mu held.
func (m *model) heardLocked(e *RoomEvent) {
	r, ok := m.trackedRoomLocked(e.RoomSID)
	if !ok || r.ended() {
		return
	}
	flags := r.flags | roomHeard
	if e.participantEvent() {
		flags |= roomHot
	}
	if flags != r.flags {
		r.flags = flags
		m.putRoom(r)
	}
}

// roomPlan is a Room in progress learnt from a status callback: recorded
// in the model optimistically (its name), counted by the driver.
type roomPlan struct {
	sid, name string
	ts        int64 // when it was created (µs, Twilio's clock)
	undo      func()
}

// learnRoomLocked records Room sid (name), new to the model, under its
// name. Requires mu held and sid's stripe.
func (m *model) learnRoomLocked(sid, name string, ts int64) roomPlan {
	prev, had := m.nameSIDLocked(name)
	m.nameLocked(name, sid)
	m.recon.room(sid, true)
	return roomPlan{sid: sid, name: name, ts: ts, undo: func() {
		if had {
			m.nameLocked(name, prev)
		} else {
			m.dropNameLocked(name)
		}
	}}
}

// exec counts the Room: the driver holds it, or commits the reservation
// that it settles.
func (p *roomPlan) exec(ctx context.Context, c *Client, src quota.Source) error {
	_, err := c.rooms().feed(ctx, c, src, stamp(c.now()), acct.RoomCreated{SID: p.sid, Name: strings.Clone(p.name), At: p.ts}, nil)
	return err
}

func (m *model) roomCreated(ctx context.Context, c *Client, e *RoomEvent, ts int64) error {
	m.mu.Lock()
	r, isNew := m.roomLocked(e.RoomSID)
	if !isNew {
		if r.ended() || ts < r.at() {
			e.Stale = true
		}
		if !r.ended() { // an ended Room's name may be another's by now
			m.nameLocked(e.RoomName, r.sid)
		}
		m.mu.Unlock()
		return nil // already in progress (own call, a participant event came first) or ended
	}
	plan := m.learnRoomLocked(r.sid, e.RoomName, ts)
	m.mu.Unlock()
	err := plan.exec(ctx, c, quota.SourceCallback)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		plan.undo()
		return err
	}
	r.mark = inProgress(ts)
	m.putRoom(r)
	return nil
}

// takeTokensLocked takes out the JoinToken Participant reservations that a
// Participant of e's Room and identity settles, with an undo.
func (m *model) takeTokensLocked(e *RoomEvent) (keys []string, undo func()) {
	if len(m.partToks) == 0 {
		return nil, func() {}
	}
	var taken []*tokRes
	for _, room := range [...]string{e.RoomName, e.RoomSID} {
		if room == "" {
			continue
		}
		k := ParticipantReservationKey(room, e.ParticipantIdentity)
		if t, ok := m.partToks[k]; ok && t.isReady() && t.err == nil && t.made {
			m.dropTokLocked(k, t)
			taken = append(taken, t)
			keys = append(keys, t.key)
		}
	}
	return keys, func() {
		for _, t := range taken {
			m.partToks[t.id] = t
			m.toksOf[t.room]++
			m.tokQ.push(t) // a pruning may have dropped it meanwhile
		}
	}
}

func (m *model) dropTokLocked(k string, t *tokRes) {
	delete(m.partToks, k)
	if m.toksOf[t.room]--; m.toksOf[t.room] <= 0 {
		delete(m.toksOf, t.room)
	}
}

func (m *model) participantConnected(ctx context.Context, c *Client, e *RoomEvent, ts int64) error {
	m.mu.Lock()
	if p, known := m.partLocked(e.RoomSID, e.ParticipantSID); known {
		if p.ended() || ts < p.at() {
			e.Stale = true
		}
		// Known already (a listing held it first): the token it connected
		// with is used up all the same, whichever process made it.
		m.takeTokensLocked(e)
		joined := m.joinedLocked(e, true)
		m.mu.Unlock()
		m.releaseKeys(ctx, c, tokenKeys(e))
		c.rooms().tell(ctx, c, quota.SourceCallback, joined)
		return nil
	}
	r, roomNew := m.roomLocked(e.RoomSID)
	if r.ended() {
		// Connected before the Room ended, delivered after: already gone.
		e.Stale = true
		m.trackPartLocked("", e.ParticipantSID, endedAt(max(ts, m.nowLocked(c))), 0)
		m.takeTokensLocked(e)
		joined := m.joinedLocked(e, true)
		m.mu.Unlock()
		m.releaseKeys(ctx, c, tokenKeys(e))
		c.rooms().tell(ctx, c, quota.SourceCallback, joined)
		return nil
	}
	var rp roomPlan
	if roomNew {
		// room-created not seen (yet): the Room is in progress all the same.
		rp = m.learnRoomLocked(r.sid, e.RoomName, ts)
	}
	_, undoToks := m.takeTokensLocked(e)
	m.recon.part(e.ParticipantSID, r.sid, true)
	m.mu.Unlock()

	var err error
	if roomNew {
		err = rp.exec(ctx, c, quota.SourceCallback)
	}
	// The token's reservation, made by this process or another sharing the
	// store, becomes the Participant's holding in one store operation: the
	// key is the same in every process.
	keys := tokenKeys(e)
	if err == nil {
		err = c.ledger.Commit(ctx, quota.Participants, keys[0], e.ParticipantSID, quota.SourceCallback)
	}
	// The other keys are committed onto what is held already: a Commit
	// drops a reservation without marking its key ended, as a Release of
	// a key not pending would.
	for _, k := range keys[1:] {
		if err == nil {
			err = c.ledger.Commit(ctx, quota.Participants, k, e.ParticipantSID, quota.SourceCallback)
		}
	}
	m.mu.Lock()
	if err != nil {
		undoToks()
		if roomNew {
			rp.undo()
		}
		m.mu.Unlock()
		return err
	}
	if roomNew {
		r.mark = inProgress(ts)
		m.putRoom(r)
	}
	m.indexLocked(r.sid, e.ParticipantSID, idxHeld|idxConn)
	m.trackPartLocked(r.sid, e.ParticipantSID, inProgress(ts), m.identHash(e.ParticipantIdentity))
	// The Room is counted (rp.exec): a JoinToken Room reservation for its
	// name is used up now.
	joined := m.joinedLocked(e, true)
	m.mu.Unlock()
	c.rooms().tell(ctx, c, quota.SourceCallback, joined)
	return nil
}

// joinedLocked returns what a Participant of e's Room, whose JoinToken
// Participant reservations were just taken (takeTokensLocked), tells the
// Rooms' accounting: that a token of the Room's name connected
// (acct.Joined, for a participant-connected: with a shared store, the
// name's Room reservation, whichever process made it, is used up), and,
// once every token this Client minted for the name has connected, that
// its Room reservation stands for nothing more (acct.TokensUsed; the
// reservation is forgotten here too). Requires mu.
func (m *model) joinedLocked(e *RoomEvent, connected bool) []acct.Input {
	if e.RoomName == "" || e.RoomName == e.RoomSID {
		return nil
	}
	name := strings.Clone(e.RoomName)
	var ins []acct.Input
	if connected {
		ins = append(ins, acct.Joined{SID: e.RoomSID, Name: name})
	}
	if t, ok := m.roomToks[name]; ok && t.made && t.isReady() && t.users == 0 && m.toksOf[name] == 0 {
		delete(m.roomToks, name)
		ins = append(ins, acct.TokensUsed{Name: name})
	}
	return ins
}

// tokenKeys returns the store keys of the JoinToken Participant
// reservations that a Participant of e's Room and identity uses up, in
// whichever process they were made: [ParticipantReservationKey] of the
// Room's name, then of its SID when that differs (a token names its Room
// either way).
func tokenKeys(e *RoomEvent) []string {
	if e.RoomName == "" || e.RoomName == e.RoomSID {
		return []string{ParticipantReservationKey(e.RoomSID, e.ParticipantIdentity)}
	}
	return []string{ParticipantReservationKey(e.RoomName, e.ParticipantIdentity), ParticipantReservationKey(e.RoomSID, e.ParticipantIdentity)}
}

// releaseKeys gives back Participant reservations an event showed used.
// Errors are logged: the reservations lapse at the tokens' expiry anyway.
func (m *model) releaseKeys(ctx context.Context, c *Client, keys []string) {
	for _, k := range keys {
		if err := c.ledger.Release(ctx, quota.Participants, k, quota.SourceCallback); err != nil {
			c.logWarn(ctx, "releasing a token reservation failed", err)
		}
	}
}

// participantDisconnected releases the Participant and reports whether its
// Room, known in progress, is now empty (nobody connected, no token
// outstanding).
func (m *model) participantDisconnected(ctx context.Context, c *Client, e *RoomEvent, ts int64) (bool, error) {
	m.mu.Lock()
	p, known := m.partLocked(e.RoomSID, e.ParticipantSID)
	if known && p.ended() {
		e.Stale = true
		m.mu.Unlock()
		return false, nil
	}
	// Its token's reservation is used up, whether participant-connected was
	// lost, is late or found the Participant known already.
	keys, undo := m.takeTokensLocked(e)
	m.recon.part(e.ParticipantSID, e.RoomSID, false)
	m.mu.Unlock()
	if err := c.ledger.Release(ctx, quota.Participants, e.ParticipantSID, quota.SourceCallback); err != nil {
		m.mu.Lock()
		undo()
		m.mu.Unlock()
		return false, err
	}
	m.releaseKeys(ctx, c, keys)
	m.mu.Lock()
	if p.room != "" {
		m.unindexLocked(p.room, e.ParticipantSID, idxHeld|idxConn)
	}
	// Remember the end, so that a late participant-connected changes nothing.
	m.trackPartLocked("", e.ParticipantSID, endedAt(max(ts, 1)), 0)
	empty := m.emptyLocked(e.RoomSID)
	used := m.joinedLocked(e, false) // its participant-connected may be lost or late
	m.mu.Unlock()
	c.rooms().tell(ctx, c, quota.SourceCallback, used)
	return empty, nil
}

// emptyLocked reports whether Room sid is in progress with nobody connected
// and no JoinToken reservation outstanding for it (by SID or name).
func (m *model) emptyLocked(sid string) bool {
	r, ok := m.trackedRoomLocked(sid)
	if !ok || r.ended() || m.connectedLocked(sid) || m.toksOf[sid] > 0 {
		return false
	}
	return len(m.namesOfLocked(sid)) == 0
}

// namesOfLocked returns the names under which JoinToken reservations are
// outstanding for Room sid (the model keeps no name by Room).
func (m *model) namesOfLocked(sid string) []string {
	var out []string
	for room, n := range m.toksOf {
		if n > 0 && room != sid {
			if s, ok := m.nameSIDLocked(room); ok && s == sid {
				out = append(out, room)
			}
		}
	}
	return out
}

// ---- JoinToken ----

// tokenSlots says which slots a token for (room, identity) needs, taking
// or sharing the JoinToken reservations in the model. It returns the
// reservations this call must make (nil when shared or not needed) and the
// ones it shares (to wait for).
func (m *model) tokenSlots(c *Client, room, identity string) (roomTok, partTok *tokRes, mineRoom, mineTok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sid := room
	if !validSID("RM", room) {
		sid = m.inProgressLocked(room)
	}
	if !validSID("RM", room) && sid == "" && !c.rooms().creating(room) {
		// No Room in progress or being created under that name: the token's
		// first connect creates one (ad hoc).
		if t, ok := m.roomToks[room]; ok {
			t.users++
			roomTok = t
		} else {
			m.tokGen++
			roomTok = &tokRes{created: stamp(c.now()), id: room, key: roomResKey(room), gen: m.tokGen, room: room, ready: make(chan struct{}), users: 1}
			m.roomToks[room] = roomTok
			m.tokQ.push(roomTok)
			mineRoom = true
		}
	}
	if sid != "" && m.connectedAsLocked(sid, m.identHash(identity)) {
		// Twilio replaces a Participant that connects again with the same
		// identity (error 53205): the count does not grow.
		return roomTok, nil, mineRoom, false
	}
	k := ParticipantReservationKey(room, identity)
	if t, ok := m.partToks[k]; ok {
		t.users++
		return roomTok, t, mineRoom, false
	}
	partTok = &tokRes{id: k, key: k, room: room, ready: make(chan struct{}), users: 1}
	m.partToks[k] = partTok
	m.tokQ.push(partTok)
	m.toksOf[room]++
	return roomTok, partTok, mineRoom, true
}

// inProgressLocked returns the SID of the Room in progress under name, ""
// if none is known. A name whose Room ended is dropped here rather than
// when the Room ends, so that Rooms need not keep their names.
func (m *model) inProgressLocked(name string) string {
	sid, kept := m.nameSIDLocked(name)
	if !kept {
		// A name not kept may be the Room's SID (Twilio's default).
		if r, ok := m.trackedRoomLocked(name); ok && !r.ended() {
			return name
		}
		return ""
	}
	if m.nameLive(sid) { // in progress, or an event is learning it
		return sid
	}
	m.dropNameLocked(name)
	return ""
}

// connectedAsLocked reports whether a Participant with identity hash id is
// known connected in Room sid.
func (m *model) connectedAsLocked(sid string, id uint32) bool {
	if id == 0 {
		return false
	}
	r, _ := m.getRoom(sid)
	for _, rec := range r.parts {
		if rec.bits&idxConn != 0 && rec.ident == id && !rec.ended() {
			return true
		}
	}
	return false
}

// tokenDone ends one JoinToken call's use of t: ok when the token was
// returned (t's expiry is raised to exp). A reservation no returned token
// relies on, once no call uses it, is removed and given back.
func (m *model) tokenDone(ctx context.Context, c *Client, t *tokRes, res quota.Resource, ok bool, exp time.Time) {
	if t == nil {
		return
	}
	m.mu.Lock()
	t.users--
	if ok {
		t.made = true
		if exp.After(t.exp) {
			t.exp = exp
		}
	}
	drop := false
	if t.users == 0 && !t.made {
		if res == quota.Rooms && m.roomToks[t.id] == t {
			delete(m.roomToks, t.id)
			drop = true
		} else if res == quota.Participants && m.partToks[t.id] == t {
			m.dropTokLocked(t.id, t)
			drop = true
		}
	}
	m.mu.Unlock()
	switch {
	case !drop || t.err != nil:
	case res == quota.Rooms:
		c.rooms().tell(ctx, c, quota.SourceLocal, []acct.Input{acct.TokenDropped{Name: t.id, Gen: t.gen}})
	default:
		c.giveBack(ctx, res, t.key)
	}
}

// ---- pruning ----

// Pruning is incremental: every status callback applied looks at a few
// entries of three queues under mu, never at every SID. Ended Rooms and
// Participants are queued in the order they ended and forgotten once
// their end is older than the retention on the callbacks' clock (an end
// queued behind a later one waits for it, so an ended SID is remembered
// for between one and about two retentions: deliveries are nearly in
// order, and one older than the retention is not applied).
// Names and JoinToken reservations are looked at round robin.
const (
	pruneEnds   = 16 // ended SIDs looked at per callback
	pruneNames  = 2  // names looked at per callback
	pruneTokens = 2  // JoinToken reservations looked at per callback
)

// endedSID is a Room or Participant SID that ended at at (µs).
type endedSID struct {
	sid  string
	in   string // the Room a Participant was indexed in when it ended
	at   int64
	room bool
}

// pruneLocked forgets (a few of) the Rooms and Participants that ended
// more than the retention ago on the callbacks' clock (keeping those still
// indexed for the index only), names of Rooms no longer in progress, and
// expired JoinToken reservations. Requires mu held.
func (m *model) pruneLocked() {
	now := m.newest
	cut := now - int64(m.retention/time.Microsecond)
	for range pruneEnds {
		e, ok := m.ends.peek()
		if !ok || e.at >= cut {
			break
		}
		m.ends.pop()
		if e.room {
			if r, ok := m.getRoom(e.sid); ok && r.mark != untracked && r.ended() && r.at() < cut {
				r.mark = untracked
				m.storeRoomLocked(r)
				m.later = append(m.later, acct.Forget{SID: e.sid})
			}
			continue
		}
		if p, ok := m.parts[e.sid]; ok && p.ended() && p.at() < cut {
			delete(m.parts, e.sid)
		} else if r, ok := m.getRoom(e.in); ok && e.in != "" {
			if i := m.recInLocked(r, e.sid); i >= 0 && r.parts[i].bits&idxOnly == 0 && r.parts[i].ended() && r.parts[i].at() < cut {
				r.parts[i].mark, r.parts[i].bits = 0, r.parts[i].bits|idxOnly // kept for the index only
			}
		}
	}
	m.pruneNamesLocked()
	wall := time.UnixMicro(now)
	for i := 0; i < pruneTokens && i < m.tokQ.len(); i++ {
		t := m.tokQ.pop()
		switch {
		case m.partToks[t.id] == t:
			if t.users == 0 && !wall.Before(t.exp) {
				m.dropTokLocked(t.id, t)
				continue
			}
		case m.roomToks[t.id] == t:
			if t.users == 0 && !wall.Before(t.exp) {
				delete(m.roomToks, t.id)
				m.later = append(m.later, acct.TokensLapsed{Name: t.id, At: now})
				continue
			}
		default:
			continue // settled or given back
		}
		m.tokQ.push(t)
	}
}

// pruneNamesLocked looks at pruneNames names, round robin, and drops
// those whose Room is no longer in progress. A Room not in the model is
// being learnt (its stripe is held: keep the name) or was forgotten.
// Requires mu.
func (m *model) pruneNamesLocked() {
	for i := 0; i < pruneNames && m.names.Len() > 0; i++ {
		if m.nameAt >= m.names.Len() {
			m.nameAt = 0
		}
		h, id := m.names.At(m.nameAt)
		var buf [34]byte
		if m.nameLive(transient(id.Append(buf[:0], "RM"))) { // no string per name
			m.nameAt++
		} else {
			m.names.Delete(h) // the last entry moves here: looked at next
		}
	}
	n := 0
	for h, sid := range m.oddNames { // a map's range starts anywhere
		if n++; n > pruneNames {
			break
		}
		if !m.nameLive(sid) {
			delete(m.oddNames, h)
		}
	}
}

// transient returns b as a string without copying it, for a lookup that
// keeps nothing of it: the string is valid only while b is unchanged.
func transient(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// nameLive reports whether a name of Room sid is still worth keeping.
// Requires mu.
func (m *model) nameLive(sid string) bool {
	if r, ok := m.getRoom(sid); ok {
		return !r.ended() && r.mark != untracked
	}
	st := m.stripe(sid)
	if !st.TryLock() {
		return true // an event of that Room is halfway through
	}
	st.Unlock()
	return false
}

// endRoomTrackLocked stores r as ended at at and queues it for pruning.
func (m *model) endRoomTrackLocked(r roomTrack, at int64) {
	r.mark = endedAt(at)
	m.storeRoomLocked(r)
	m.ends.push(endedSID{sid: r.sid, at: at, room: true})
}

// fifo is a queue.
type fifo[T any] struct {
	buf  []T
	head int
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) { q.buf = append(q.buf, v) }

func (q *fifo[T]) peek() (T, bool) {
	if q.head == len(q.buf) {
		var zero T
		return zero, false
	}
	return q.buf[q.head], true
}

// pop removes the head; the queue must not be empty. The buffer is
// compacted when half of it is popped.
func (q *fifo[T]) pop() T {
	v := q.buf[q.head]
	var zero T
	q.buf[q.head] = zero
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head >= 32 && q.head*2 >= len(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return v
}

// ---- tracks ----

// roomTrack is what the model knows of one Room, by value, and the
// Participants indexed in it (see indexLocked): the Room -> Participant
// relation is kept once, here. A roomTrack whose mark is untracked exists
// only for the index.
type roomTrack struct {
	sid string // the key in rooms
	roomState
}

// roomState is what the model keeps of a Room, under its SID.
type roomState struct {
	mark
	parts  []partRec // Participants indexed in it (at most 50 in a Room), with what the model knows of them
	listed uint32    // the Reconcile pass that last listed its Participants; 0: never
	flags  uint8     // roomOwn, roomHeard, roomHot
}

// getRoom returns the track of Room sid (with sid as its sid) and whether
// the model has one. Requires mu held.
func (m *model) getRoom(sid string) (roomTrack, bool) {
	st, ok := m.rooms.Get(sid)
	return roomTrack{sid: sid, roomState: st}, ok
}

// putRoom stores r under r.sid. Requires mu held.
func (m *model) putRoom(r roomTrack) { m.rooms.Set(r.sid, r.roomState) }

// roomTrack flags, for Reconcile's choice of Rooms to list.
const (
	roomOwn   uint8 = 1 << iota // learnt through the Client's own calls
	roomHeard                   // a status callback for it was applied
	roomHot                     // a Participant event was applied since it was last listed
)

// partTrack is what the model knows of a Participant that is not indexed
// in a Room (see index.go), by value: ended ones, remembered so that late
// events for them are stale.
type partTrack struct {
	mark
	ident uint32 // identity hash (identHash), 0 when not known
}

// mark is a track's state in 8 bytes: a time in Unix microseconds (see
// stamp) shifted left by one, with whether the SID ended in the low bit.
// The shift keeps times exact and ordered (int64 still holds +-146,000
// years). The time is the Timestamp of the last event applied while the SID
// is live, and when it ended once ended (for pruning): nothing is ordered
// against an ended SID, every later event for it is stale.
type mark int64

// inProgress is the mark of a live SID whose last event was at.
func inProgress(at int64) mark { return mark(at << 1) }

// endedAt is the mark of a SID that ended at at.
func endedAt(at int64) mark { return mark(at<<1 | 1) }

func (m mark) at() int64 { return int64(m) >> 1 }

func (m mark) ended() bool { return m&1 != 0 }

// stamp returns t in Unix microseconds, which int64 holds for every year
// time.Parse reads (RFC 3339 years are 0000-9999). Events are ordered to the
// microsecond: Twilio's Timestamps carry seconds
// (https://www.twilio.com/docs/video/api/status-callbacks).
func stamp(t time.Time) int64 { return t.UnixMicro() }

// untracked marks a roomTrack that exists only for the index.
const untracked mark = math.MinInt64

// internLocked points e's RoomSID and ParticipantSID at copies: the parsed
// values share the request body's memory, which a SID kept as a string
// (a name's Room, a window entry, an ended SID) would otherwise keep
// alive. The model's Room and Participant tracks hold SIDs in 16 bytes.
func (m *model) internLocked(e *RoomEvent) {
	e.RoomSID = strings.Clone(e.RoomSID)
	e.ParticipantSID = strings.Clone(e.ParticipantSID)
}

// roomLocked returns the track of Room sid and whether it is new to the
// model (a new track is in progress and not stored yet). It keeps the
// Room's index.
func (m *model) roomLocked(sid string) (roomTrack, bool) {
	r, ok := m.getRoom(sid)
	if !ok {
		return roomTrack{sid: sid}, true
	}
	if r.mark == untracked {
		r.mark = 0
		return r, true
	}
	return r, false
}

// partLocked returns what the model knows of Participant sid, looking in
// Room room (the Room an event or listing names; "" for none) and among
// the Participants not indexed, and whether the model tracks it. The view
// says where it is indexed.
func (m *model) partLocked(room, sid string) (partView, bool) {
	if r, ok := m.getRoom(room); ok && room != "" {
		if i := m.recInLocked(r, sid); i >= 0 {
			rec := r.parts[i]
			v := partView{mark: rec.mark, ident: rec.ident, room: r.sid, bits: rec.bits}
			if rec.bits&idxOnly != 0 {
				v.mark = 0
				return v, false
			}
			return v, true
		}
	}
	if t, ok := m.parts[sid]; ok {
		return partView{mark: t.mark, ident: t.ident}, true
	}
	return partView{}, false
}

// trackPartLocked stores mk (and the identity hash, when not 0) as what the
// model knows of Participant sid: in Room room if it is indexed there,
// else in the parts map.
func (m *model) trackPartLocked(room, sid string, mk mark, ident uint32) {
	in := ""
	if r, ok := m.getRoom(room); ok && room != "" {
		if i := m.recInLocked(r, sid); i >= 0 {
			rec := &r.parts[i]
			rec.mark, rec.bits = mk, rec.bits&^idxOnly
			if ident != 0 {
				rec.ident = ident
			}
			in = r.sid
		}
	}
	if in == "" {
		t := m.parts[sid]
		t.mark = mk
		if ident != 0 {
			t.ident = ident
		}
		m.parts[sid] = t
	}
	if mk.ended() {
		m.ends.push(endedSID{sid: sid, at: mk.at(), in: in})
	}
}

// trackedRoomLocked returns the track of Room sid if the model knows it.
func (m *model) trackedRoomLocked(sid string) (roomTrack, bool) {
	r, ok := m.getRoom(sid)
	return r, ok && r.mark != untracked
}

// nameLocked records sid as the Room in progress under name. A name equal
// to the SID (Twilio's default UniqueName) is not kept: the SID finds the
// Room. Names are kept by a 64-bit hash (seeded per Client), not as
// strings: two names sharing one (odds of about 2^-64 a pair, out of a
// caller's control) would find each other's Room. Requires mu.
func (m *model) nameLocked(name, sid string) {
	if name == "" || name == sid {
		return
	}
	h := m.nameHash(name)
	if id, ok := sidmap.Exact("RM", sid); ok {
		m.names.Set(h, id)
		delete(m.oddNames, h)
		return
	}
	m.names.Delete(h)
	m.oddNames[h] = strings.Clone(sid)
}

// nameSIDLocked returns the SID of the Room last known in progress under
// name, if the model keeps one. Requires mu.
func (m *model) nameSIDLocked(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	h := m.nameHash(name)
	if id, ok := m.names.Get(h); ok {
		return id.String("RM"), true
	}
	sid, ok := m.oddNames[h]
	return sid, ok
}

// dropNameLocked forgets name. Requires mu.
func (m *model) dropNameLocked(name string) {
	h := m.nameHash(name)
	m.names.Delete(h)
	delete(m.oddNames, h)
}

func (m *model) nameHash(name string) uint64 { return maphash.String(m.seed, name) }

// roomResKey is the ledger key of a Room slot reserved by JoinToken for a
// Room name not known to be in progress, the same in every process sharing
// the store (acct.Config.TokenKey).
func roomResKey(name string) string { return "pending-room:" + name }

// readBudget returns the limiter in *slot, made or re-rated to perSecond
// (unlimited when perSecond is not positive: the Client's bucket still applies).
func (m *model) readBudget(slot **rate.Limiter, perSecond float64) *rate.Limiter {
	lim := rate.Inf
	if perSecond > 0 {
		lim = rate.Limit(perSecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if *slot == nil {
		*slot = rate.NewLimiter(lim, 1)
	} else if (*slot).Limit() != lim {
		(*slot).SetLimit(lim)
	}
	return *slot
}

// closingStoreWait bounds how long a call that Close ended waits on the
// store to give back or settle its reservation, so that Close ends it
// within about this much even on a hung Redis: a store that queues the
// writes Twilio reported (redisstore under FailClosed) keeps the write and
// writes it back when Redis answers; with another store the reservation
// lapses with its ttl (the reservation TTL of the Client).
const closingStoreWait = 50 * time.Millisecond

// storeCtx returns the context of a store write that settles this
// Client's own call: not ended by the call's ctx, and bounded by
// closingStoreWait once Close has begun.
func (c *Client) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	if c.closed.Load() {
		return context.WithTimeout(ctx, closingStoreWait)
	}
	return ctx, func() {}
}

// giveBack releases this Client's reservation key. After Close the Ledger
// refuses operations, so the reservation is given back to the store
// directly (no threshold event is delivered after Close): a shared store
// must not keep a slot for a call that Close ended. Once Close has begun it
// waits on the store for closingStoreWait at most.
func (c *Client) giveBack(ctx context.Context, res quota.Resource, key string) {
	ctx, cancel := c.storeCtx(ctx)
	defer cancel()
	err := c.ledger.Release(ctx, res, key, quota.SourceLocal)
	if errors.Is(err, quota.ErrClosed) {
		_, err = c.store.Release(ctx, c.accountSID, backend.Resource(res), key, nil)
	}
	if err != nil {
		c.logWarn(ctx, "releasing a reservation failed", err)
	}
}
