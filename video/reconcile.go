package video

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/video/internal/acct"
)

// DefaultReconcileShare is the share of the read quota that reconciliation
// may spend by default: 10%, i.e. 8 requests/s of Twilio's default 80.
const DefaultReconcileShare = 0.1

// DefaultReconcileInterval is the time one [Client.Reconcile] pass budgets
// its reads for when it is not run by [Client.RunReconciler] (which budgets
// each pass for its interval): at the default share of Twilio's default
// read quota, 60 s × 10% × 80/s = 480 reads a pass.
const DefaultReconcileInterval = time.Minute

// reconcilePageSize is the largest page Twilio serves
// (https://www.twilio.com/docs/usage/twilios-response#pagination), so that
// N in-progress Rooms cost ⌈N/1000⌉ reads, and one Room's connected
// Participants (at most 50 in a group Room) one read.
const reconcilePageSize = 1000

// Drift is what a reconciliation found the ledger had wrong, per resource,
// and how much of the account it looked at.
type Drift struct {
	Rooms        ResourceDrift
	Participants ResourceDrift
	// Requests is how many read requests the reconciliation sent.
	Requests int
	// Listed is how many of the Rooms.Twilio in-progress Rooms had their
	// connected Participants listed by this pass. Participants.Twilio counts
	// the Participants of those Rooms only; the other Rooms are left to
	// later passes (see [Client.Reconcile]).
	Listed int
	// Prioritised is how many of the Listed Rooms were chosen ahead of the
	// round robin because drift was likely there.
	Prioritised int
	// Budget is the reads the pass could send (interval × share × read
	// quota); 0 when the read quota is unlimited, and the pass unbounded.
	Budget int
	// Sweep is how many passes at this budget list the Participants of
	// every in-progress Room at least once when no Room is prioritised
	// (⌈Rooms.Twilio / (Budget - Room pages)⌉; 1 when one pass lists them
	// all, 0 when the budget leaves no read for Participants). A
	// Participant's lost event is corrected within Sweep passes, or twice
	// that when prioritised Rooms take half of every pass.
	Sweep int
	// At is when the ledger was corrected.
	At time.Time
}

// ResourceDrift is the correction of one resource.
type ResourceDrift struct {
	// Twilio is how many Twilio reported (in-progress Rooms; connected
	// Participants of the Rooms listed, see [Drift.Listed]).
	Twilio int
	// Added counts holdings Twilio reports that the ledger lacked (lost
	// callbacks, other applications); Removed those it held that Twilio no
	// longer reports.
	Added, Removed int
	// Settled counts this Client's pending reservations that the listing
	// accounted for and that were given back (see [Client.Reconcile]).
	Settled int
}

// Zero reports whether the ledger was already right.
func (d Drift) Zero() bool {
	return d.Rooms.Added == 0 && d.Rooms.Removed == 0 && d.Rooms.Settled == 0 &&
		d.Participants.Added == 0 && d.Participants.Removed == 0 && d.Participants.Settled == 0
}

// Complete reports whether the pass listed the Participants of every
// in-progress Room: the ledger's Participants were then made exact too.
func (d Drift) Complete() bool { return d.Listed == d.Rooms.Twilio }

// String summarises the drift.
func (d Drift) String() string {
	return fmt.Sprintf("rooms %d (+%d -%d), participants %d (+%d -%d) in %d/%d rooms, %d requests",
		d.Rooms.Twilio, d.Rooms.Added, d.Rooms.Removed,
		d.Participants.Twilio, d.Participants.Added, d.Participants.Removed, d.Listed, d.Rooms.Twilio, d.Requests)
}

// DriftFunc receives the result of each reconciliation; see [OnDrift].
type DriftFunc func(Drift)

// ReconcileOption configures [Client.Reconcile] and [Client.RunReconciler].
type ReconcileOption func(*reconcileConfig) error

type reconcileConfig struct {
	share    float64
	interval time.Duration
	onDrift  []DriftFunc
}

// WithReadShare caps the reads reconciliation sends at share (in (0, 1]) of
// the Client's read quota (default [DefaultReconcileShare]), on top of the
// Client's own read bucket, which they also wait for: a pass sends at most
// interval × share × the read quota reads, paced at share × the read quota
// per second on the Client's clock. The pacing is kept per Client across
// calls.
func WithReadShare(share float64) ReconcileOption {
	return func(r *reconcileConfig) error {
		if !(share > 0 && share <= 1) {
			return fmt.Errorf("video: WithReadShare(%v): want a share in (0, 1]", share)
		}
		r.share = share
		return nil
	}
}

// WithPassInterval budgets a [Client.Reconcile] pass as one pass of a
// reconciler run every d (default [DefaultReconcileInterval]): it sends at
// most d × share × the read quota reads. [Client.RunReconciler] sets it to
// its interval.
func WithPassInterval(d time.Duration) ReconcileOption {
	return func(r *reconcileConfig) error {
		if d <= 0 {
			return fmt.Errorf("video: WithPassInterval(%s): want a positive interval", d)
		}
		r.interval = d
		return nil
	}
}

// OnDrift calls fn with the [Drift] of each reconciliation, zero or not, on
// the reconciling goroutine after the ledger was corrected.
func OnDrift(fn DriftFunc) ReconcileOption {
	return func(r *reconcileConfig) error {
		if fn == nil {
			return errors.New("video: OnDrift: nil func")
		}
		r.onDrift = append(r.onDrift, fn)
		return nil
	}
}

func buildReconcileConfig(opts []ReconcileOption) (*reconcileConfig, error) {
	cfg := &reconcileConfig{share: DefaultReconcileShare, interval: DefaultReconcileInterval}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("video: Reconcile: option %d is nil", i)
		}
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// passBudget is the reads a pass may send: interval × share × the read
// quota, 0 (unbounded) when the read quota is unlimited or the budget
// beyond any account.
func passBudget(interval time.Duration, share, readsPerSecond float64) int {
	b := interval.Seconds() * share * readsPerSecond
	if readsPerSecond <= 0 || b >= 1<<30 {
		return 0
	}
	return max(1, int(b))
}

// reconWindow records what the model learnt while a reconciliation was
// listing and applying, so that its result does not undo it. Entries are
// recorded when a source decides (before its store operation), numbered,
// so that those decided after the reconciliation listed (or computed its
// sets) win over the listing, or are applied again once a Sync has run.
type reconWindow struct {
	rooms map[string]winEntry // Room SID ->
	parts map[string]winEntry // Participant SID ->
	gen   int
}

type winEntry struct {
	room string // the Participant's Room SID
	on   bool   // in progress, connected
	gen  int
}

func newReconWindow() *reconWindow {
	return &reconWindow{rooms: make(map[string]winEntry), parts: make(map[string]winEntry)}
}

// room records a Room event; a nil window records nothing.
func (w *reconWindow) room(sid string, inProgress bool) {
	if w != nil {
		w.gen++
		w.rooms[sid] = winEntry{on: inProgress, gen: w.gen}
	}
}

// part records a Participant event; a nil window records nothing.
func (w *reconWindow) part(sid, room string, connected bool) {
	if w != nil {
		w.gen++
		w.parts[sid] = winEntry{room: room, on: connected, gen: w.gen}
	}
}

// twilioRoom is an in-progress Room as listed.
type twilioRoom struct {
	sid, name string
	created   int64 // date_created (µs, Twilio's clock); 0 when not known
}

// twilioPart is a connected Participant as listed.
type twilioPart struct{ sid, room, identity string }

// DefaultRequestWindow is the request window with the default attempt
// timeout. The request window is how long after the Client stopped waiting
// for a request's answer (its last attempt ended without one) Twilio may
// still act on it: one more attempt timeout, the time Twilio was given to
// answer. A Room create whose outcome is unknown (see [Client.CreateRoom])
// and older than the window when a [Client.Reconcile] starts listing is
// settled by that listing: if the Room exists, the listing shows it. The
// window follows the attempt timeout in force: [DefaultTimeout] by default,
// else that of [WithAttemptTimeout] or of a [WithHTTPClient] client's
// Timeout; with no attempt timeout (WithAttemptTimeout(0)) it is this
// default.
const DefaultRequestWindow = DefaultTimeout

// requestWindow is the request window for the attempt timeout in force
// (see [DefaultRequestWindow]).
func (c *Client) requestWindow() time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return DefaultRequestWindow
}

// Reconcile corrects the ledger from Twilio's lists, within a read budget,
// in one pass:
//
//   - Rooms, exactly, every pass: it lists the in-progress Rooms (⌈N/1000⌉
//     reads at N Rooms, page size 1000) and makes the ledger's Room
//     holdings exactly those ([quota.Ledger.Sync]). Participants held in
//     Rooms Twilio no longer lists are released (the Room ended).
//   - Participants, per Room: Twilio has no account-wide list of connected
//     Participants, so each Room costs one listing. The pass spends the
//     rest of its budget on listings, each applied to that Room alone (the
//     Participants the Client knows in it against the listing, under the
//     Room's lock; Participants that changed while it listed keep what the
//     callbacks said). Up to half the listings go first to Rooms where drift
//     is likely, least recently listed first: Rooms with status callback
//     activity since their last listing, Rooms the Client knows only through
//     its own calls (no callback seen) or never listed, and Rooms whose
//     counts disagree with what the callbacks imply (a JoinToken reservation
//     outstanding, a Participant held by the Client but never seen
//     connected). The rest go round robin: to the Rooms listed least
//     recently, likely drift or not. When a pass lists every Room, the
//     ledger's Participant holdings are then made exactly the Participants
//     listed.
//
// # Cost model
//
// A pass may send B = interval × share × R reads, where R is the Client's
// read quota (Limits.ReadsPerSecond), share is [WithReadShare] and interval
// is [WithPassInterval] ([Client.RunReconciler]'s interval; one minute by
// default): 480 reads at the defaults. At N in-progress Rooms it spends
// ⌈N/1000⌉ on Rooms and lists the Participants of P = B - ⌈N/1000⌉ Rooms.
// A full sweep of the Participants thus takes S = ⌈N/P⌉ passes ([Drift.Sweep]),
// and any Participant drift (a lost callback, another application's
// Participant) is found within S × interval, or 2S × interval when
// prioritised Rooms take their full half of every pass; drift in a
// prioritised Room is found at the next pass. Room drift is found at every
// pass. At the defaults: 100 Rooms, every pass lists all (S = 1); 1,000
// Rooms, S = 3 (3 minutes); 10,000 Rooms, P = 470 and S = 22 (22 minutes,
// 43 at worst). An unlimited read quota makes every pass list every Room.
//
// Reads are paced at share × R per second on the Client's clock and go
// through the Client's read bucket too. Beside the in-progress Rooms' SIDs
// (which the Rooms' Sync needs, sharing the model's strings), memory is in
// proportion to a page: pages are decoded as streams keeping only SIDs,
// names and identities, and one Room's Participants are applied before the
// next Room is listed (about 8.5 MB allocated by a pass at 10,000 Rooms
// and the defaults).
//
// # Pending reservations
//
// It settles the pending reservations the listing accounts for: Room
// creates of this Client whose outcome was unknown and that were last on
// the wire more than the request window ([DefaultRequestWindow]: the
// attempt timeout in force) before the listing started
// (given back: a Room they created is listed and now held), and
// [Client.JoinToken] reservations whose Room or Participant is listed
// (their callbacks were lost). Other reservations (requests in flight,
// tokens not used yet, other processes' reservations) stay. Callbacks that
// arrive while it lists are not undone.
//
// It returns the drift it corrected and how much of the account it listed,
// logs the drift at Info when it is not zero, and passes it to the
// [OnDrift] funcs. Threshold crossings it causes are reported with
// [quota.SourceReconcile]. One Reconcile runs at a time per Client. When a
// read fails or ctx ends while it lists the Rooms, the ledger is left
// unchanged; later, the corrections applied so far stay and the error is
// returned.
func (c *Client) Reconcile(ctx context.Context, opts ...ReconcileOption) (_ Drift, err error) {
	ctx, release, err := c.bind(ctx) // Close wakes its waits and aborts its reads
	if err != nil {
		return Drift{}, err
	}
	defer release()
	defer func() { err = ended(ctx, err) }()
	cfg, err := buildReconcileConfig(opts)
	if err != nil {
		return Drift{}, err
	}
	return c.reconcile(ctx, cfg)
}

// pass is one reconciliation.
type pass struct {
	began  time.Time // real time the pass began: the store ages holdings in real time
	c      *Client
	m      *model
	lim    *rate.Limiter
	budget int // reads the pass may send; 0: unbounded
	win    *reconWindow
	d      Drift
}

// errBudget ends a pass's listings when its read budget is spent.
var errBudget = errors.New("video: Reconcile: read budget spent")

// read waits for the pass's next read: errBudget when its budget is spent.
func (p *pass) read(ctx context.Context) error {
	if p.budget > 0 && p.d.Requests >= p.budget {
		return errBudget
	}
	if err := p.m.pace(ctx, p.c, p.lim); err != nil {
		return err
	}
	p.d.Requests++
	return nil
}

func (c *Client) reconcile(ctx context.Context, cfg *reconcileConfig) (Drift, error) {
	if err := c.check(ctx); err != nil {
		return Drift{}, err
	}
	m := c.model()
	m.reconMu.Lock()
	defer m.reconMu.Unlock()
	p := &pass{
		c: c, m: m,
		lim:    m.readBudget(&m.reconLim, c.limits.ReadsPerSecond*cfg.share),
		budget: passBudget(cfg.interval, cfg.share, c.limits.ReadsPerSecond),
		win:    newReconWindow(),
	}
	p.d.Budget = p.budget
	m.mu.Lock()
	m.recon = p.win
	m.passes++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.recon = nil
		m.mu.Unlock()
	}()

	started := c.now()
	p.began = time.Now()
	rooms, err := p.listRooms(ctx)
	if err != nil {
		return p.d, err
	}
	bg := context.WithoutCancel(ctx)
	live, gone, err := p.syncRooms(bg, rooms, stamp(started))
	rooms = nil
	if err != nil {
		return p.d, err
	}
	for _, sid := range gone {
		if err := p.endGone(bg, sid); err != nil {
			return p.d, err
		}
	}
	n := len(live)
	if err := p.listParticipants(ctx, bg, live); err != nil && !errors.Is(err, errBudget) {
		return p.d, err
	}
	p.d.Sweep = sweep(n, p.budget, n-p.d.Listed, p.d.Requests-p.d.Listed)
	if p.d.Complete() {
		if err := p.syncParticipants(bg); err != nil {
			return p.d, err
		}
	}

	d := p.d
	d.At = c.now()
	c.metrics.reconciled(ctx, d)
	c.status.reconciled(d)
	if !d.Zero() {
		c.logger.LogAttrs(ctx, slog.LevelInfo, "videoquota: reconciled the ledger with Twilio",
			slog.Int("rooms", d.Rooms.Twilio), slog.Int("rooms_added", d.Rooms.Added),
			slog.Int("rooms_removed", d.Rooms.Removed), slog.Int("rooms_settled", d.Rooms.Settled),
			slog.Int("participants", d.Participants.Twilio),
			slog.Int("participants_added", d.Participants.Added),
			slog.Int("participants_removed", d.Participants.Removed),
			slog.Int("participants_settled", d.Participants.Settled),
			slog.Int("rooms_listed", d.Listed), slog.Int("sweep_passes", d.Sweep), slog.Int("requests", d.Requests))
	}
	for _, fn := range cfg.onDrift {
		fn(d)
	}
	return d, nil
}

// sweep is the passes a full sweep of n Rooms' Participants takes at
// budget reads a pass, of which roomReads went to the Rooms: 1 when every
// Room is listed in a pass, 0 when no read is left for Participants.
func sweep(n, budget, unlisted, roomReads int) int {
	if n == 0 || budget == 0 || unlisted == 0 {
		return 1
	}
	per := budget - roomReads
	if per <= 0 {
		return 0
	}
	return (n + per - 1) / per
}

// syncRooms makes the ledger's Rooms exactly those listed (corrected by
// what the window recorded while listing), settles the reservations the
// listing accounts for (the driver: creates of unknown outcome whose
// request window closed before the listing began at started, µs, and
// lapsed JoinToken reservations), and records the listing in the model. It returns
// the Rooms in progress (the listing's SID strings) and the Rooms the model
// held in progress that Twilio no longer lists.
func (p *pass) syncRooms(ctx context.Context, rooms []twilioRoom, started int64) (live, gone []string, err error) {
	c, m := p.c, p.m
	m.mu.Lock()
	list := m.roomSetLocked(p.win, rooms)
	snap := p.win.gen
	keys := make([]string, len(list))
	for i, r := range list {
		keys[i] = r.sid
	}
	m.mu.Unlock()

	// Holdings added since the pass began (another Client's Rooms) stay.
	added, removed, err := c.ledger.Sync(ctx, quota.Rooms, keys, time.Since(p.began))
	if err != nil {
		return nil, nil, err
	}
	// The Sync holds every listed Room already: the Model's holds of them
	// need no store operation each.
	synced := func(op acct.Op) (bool, error) { return op.Kind == acct.Hold && list.has(op.Key), nil }
	settled, err := c.rooms().feed(ctx, c, quota.SourceReconcile, started, acct.Listed{Started: started, Rooms: acctRooms(list)}, synced)
	if err != nil {
		return nil, nil, err
	}
	p.d.Rooms = ResourceDrift{Twilio: len(keys), Added: added, Removed: removed, Settled: settled}

	m.mu.Lock()
	gone = m.adoptRoomsLocked(list)
	live = keys
	again := p.win.roomsAfter(snap)
	m.mu.Unlock()
	return live, gone, c.replayRooms(ctx, again)
}

// roomList is the in-progress Rooms of a listing, sorted by SID.
type roomList []twilioRoom

func cmpRoom(r twilioRoom, sid string) int { return strings.Compare(r.sid, sid) }

// has reports whether Room sid is in l.
func (l roomList) has(sid string) bool {
	_, ok := slices.BinarySearchFunc(l, sid, cmpRoom)
	return ok
}

// roomSetLocked is what Twilio listed, corrected by what the window
// recorded while it listed, sorted by SID and without repeats (a Room
// may move between pages while they are read). It reuses rooms. Requires
// mu held.
func (m *model) roomSetLocked(win *reconWindow, rooms []twilioRoom) roomList {
	slices.SortFunc(rooms, func(a, b twilioRoom) int { return strings.Compare(a.sid, b.sid) })
	rooms = slices.CompactFunc(rooms, func(a, b twilioRoom) bool { return a.sid == b.sid })
	rooms = slices.DeleteFunc(rooms, func(r twilioRoom) bool {
		e, ok := win.rooms[r.sid]
		return ok && !e.on
	})
	n := len(rooms)
	for sid, e := range win.rooms {
		if e.on && !roomList(rooms[:n]).has(sid) {
			rooms = append(rooms, twilioRoom{sid: sid})
		}
	}
	if len(rooms) > n {
		slices.SortFunc(rooms, func(a, b twilioRoom) int { return strings.Compare(a.sid, b.sid) })
	}
	return rooms
}

// adoptRoomsLocked makes the model's Rooms agree with the listing: listed
// ones in progress (with their names), and returns those it knew in
// progress that are not listed any more, for endGone. Requires mu held.
func (m *model) adoptRoomsLocked(rooms roomList) (gone []string) {
	var buf [34]byte
	for k, r := range m.rooms.All() {
		if r.mark == untracked || r.ended() {
			continue
		}
		if !rooms.has(transient(k.Append(buf[:0]))) { // no string per Room
			gone = append(gone, k.String())
		}
	}
	for _, l := range rooms {
		r, isNew := m.roomLocked(l.sid)
		if isNew {
			// Twilio lists it in progress (SIDs are never reused).
			r.mark = inProgress(0)
			m.putRoom(r)
		}
		if !r.ended() { // ended since the listing: its name may be another's
			m.nameLocked(l.name, r.sid)
		}
	}
	return gone
}

// endGone ends Room sid, which the model knew in progress and Twilio no
// longer lists, releasing the Participants known in it, unless an event
// showed it in progress since the listing.
func (p *pass) endGone(ctx context.Context, sid string) error {
	c, m := p.c, p.m
	st := m.stripe(sid)
	st.Lock()
	defer st.Unlock()
	m.mu.Lock()
	r, ok := m.trackedRoomLocked(sid)
	if e, seen := p.win.rooms[sid]; !ok || r.ended() || (seen && e.on) {
		m.mu.Unlock()
		return nil
	}
	taken := m.takeRoomLocked(sid, idxHeld|idxConn)
	m.mu.Unlock()
	for _, t := range taken {
		if err := p.release(ctx, t.sid); err != nil {
			m.mu.Lock()
			for _, t := range taken {
				m.indexLocked(sid, t.sid, t.bits)
			}
			m.mu.Unlock()
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowLocked(c)
	for _, t := range taken {
		if _, known := m.partLocked("", t.sid); known {
			m.trackPartLocked("", t.sid, endedAt(now), 0)
		}
	}
	r, _ = m.getRoom(sid)
	m.endRoomTrackLocked(r, now) // its name is dropped by inProgressLocked
	return nil
}

// release releases Participant sid, counting it removed if it was held.
func (p *pass) release(ctx context.Context, sid string) error {
	held, err := p.c.ledger.Holds(ctx, quota.Participants, sid)
	if err != nil {
		return err
	}
	if err := p.c.ledger.Release(ctx, quota.Participants, sid, quota.SourceReconcile); err != nil {
		return err
	}
	if held {
		p.d.Participants.Removed++
	}
	return nil
}

// hold holds Participant sid, counting it added if it was not held.
func (p *pass) hold(ctx context.Context, sid string) error {
	held, err := p.c.ledger.Holds(ctx, quota.Participants, sid)
	if err != nil {
		return err
	}
	if err := p.c.ledger.Hold(ctx, quota.Participants, sid, quota.SourceReconcile); err != nil {
		return err
	}
	if !held {
		p.d.Participants.Added++
	}
	return nil
}

// listParticipants lists the connected Participants of the Rooms chosen
// from live within the budget, applying each Room's listing before the next.
func (p *pass) listParticipants(ctx, bg context.Context, live []string) error {
	m := p.m
	k := -1
	if p.budget > 0 {
		k = max(0, p.budget-p.d.Requests)
	}
	m.mu.Lock()
	chosen, pri := m.chooseLocked(live, k)
	m.mu.Unlock()
	p.d.Prioritised = pri
	var parts []twilioPart
	for _, sid := range chosen {
		m.mu.Lock()
		from := p.win.gen
		m.mu.Unlock()
		var err error
		parts, err = p.listConnected(ctx, sid, parts[:0])
		if err != nil {
			return err
		}
		if err := p.applyListing(bg, sid, parts, from); err != nil {
			return err
		}
		p.d.Listed++
	}
	return nil
}

// applyListing makes Room sid's Participants in the model and the ledger
// those listed, except those an event changed since the window's gen from
// (the event is newer). It runs under the Room's stripe, so no event of the
// Room is halfway through.
func (p *pass) applyListing(ctx context.Context, sid string, listed []twilioPart, from int) error {
	c, m := p.c, p.m
	st := m.stripe(sid)
	st.Lock()
	defer st.Unlock()
	m.mu.Lock()
	r, ok := m.trackedRoomLocked(sid)
	if !ok || r.ended() {
		m.mu.Unlock() // ended since the Rooms were listed
		return nil
	}
	newer := func(psid string) (winEntry, bool) {
		e, ok := p.win.parts[psid]
		return e, ok && e.gen > from
	}
	var add []twilioPart
	for _, lp := range listed {
		if _, ok := newer(lp.sid); ok {
			continue // an event since the listing decided
		}
		t, known := m.partLocked(r.sid, lp.sid)
		switch {
		case known && t.ended():
			continue // its end was seen: the listing is older
		case known && t.room == r.sid && t.bits&(idxHeld|idxConn) != 0:
			m.indexLocked(r.sid, lp.sid, idxConn)
		default:
			add = append(add, lp)
		}
	}
	var drop []string
	r, _ = m.getRoom(r.sid)
	for _, rec := range r.parts {
		if rec.bits&(idxHeld|idxConn) == 0 || rec.ended() {
			continue
		}
		psid := m.sidLocked(rec.pid())
		if listedIn(listed, psid) {
			continue
		}
		if e, ok := newer(psid); ok && e.on {
			continue
		}
		drop = append(drop, psid)
	}
	settled := m.settlePartsLocked(r.sid, add)
	m.mu.Unlock()

	for _, lp := range add {
		if err := p.hold(ctx, lp.sid); err != nil {
			return err
		}
	}
	for _, psid := range drop {
		if err := p.release(ctx, psid); err != nil {
			return err
		}
	}
	for _, k := range settled {
		if err := c.ledger.Release(ctx, quota.Participants, k, quota.SourceReconcile); err != nil {
			return err
		}
	}
	p.d.Participants.Settled += len(settled)

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowLocked(c)
	for _, psid := range drop {
		m.unindexLocked(r.sid, psid, idxHeld|idxConn)
		m.trackPartLocked("", psid, endedAt(now), 0)
	}
	for _, lp := range add {
		psid := lp.sid // the listing's own string, not a page's memory
		t, _ := m.partLocked(r.sid, psid)
		m.indexLocked(r.sid, psid, idxHeld|idxConn)
		m.trackPartLocked(r.sid, psid, inProgress(t.at()), m.identHash(lp.identity))
	}
	r, _ = m.getRoom(r.sid)
	r.listed, r.flags = m.passes, r.flags&^roomHot
	m.putRoom(r)
	p.d.Participants.Twilio += m.liveInLocked(r.sid)
	return nil
}

// listedIn reports whether sid is among the Participants listed.
func listedIn(listed []twilioPart, sid string) bool {
	for _, lp := range listed {
		if lp.sid == sid {
			return true
		}
	}
	return false
}

// liveInLocked counts the Participants indexed in Room sid as held or
// connected and not ended.
func (m *model) liveInLocked(sid string) int {
	n := 0
	r, _ := m.getRoom(sid)
	for _, rec := range r.parts {
		if rec.bits&(idxHeld|idxConn) != 0 && !rec.ended() {
			n++
		}
	}
	return n
}

// settlePartsLocked takes out the JoinToken Participant reservations that
// Participants listed in Room sid account for and returns their ledger
// keys. Requires mu held.
func (m *model) settlePartsLocked(sid string, parts []twilioPart) []string {
	if len(m.partToks) == 0 {
		return nil
	}
	rooms := append(m.namesOfLocked(sid), sid)
	var out []string
	for _, lp := range parts {
		if lp.identity == "" {
			continue
		}
		for _, room := range rooms {
			k := ParticipantReservationKey(room, lp.identity)
			if t, ok := m.partToks[k]; ok && t.made && t.isReady() && t.err == nil {
				m.dropTokLocked(k, t)
				out = append(out, t.key)
			}
		}
	}
	return out
}

// chooseLocked returns the Rooms of live whose Participants the pass lists,
// at most k of them (k < 0: all), and how many were prioritised: up to half
// go to Rooms where drift is likely (see [Client.Reconcile]), least
// recently listed first, the rest to the Rooms least recently listed, likely
// or not. Requires mu held.
func (m *model) chooseLocked(live []string, k int) (chosen []string, prioritised int) {
	if k < 0 || k >= len(live) {
		return live, 0
	}
	if k == 0 {
		return nil, 0
	}
	likely := m.disagreeingLocked()
	type cand struct {
		sid    string
		listed uint32
	}
	cands := make([]cand, len(live))
	npri := 0
	for i, sid := range live {
		r, _ := m.getRoom(sid)
		cands[i] = cand{sid, r.listed}
		if r.flags&roomHot != 0 || (r.flags&roomHeard == 0 && (r.flags&roomOwn != 0 || r.listed == 0)) || likely[sid] {
			cands[npri], cands[i] = cands[i], cands[npri]
			npri++
		}
	}
	pri, rest := cands[:npri], cands[npri:]
	older := func(a, b cand) int {
		if a.listed != b.listed {
			return cmp.Compare(a.listed, b.listed)
		}
		return strings.Compare(a.sid, b.sid)
	}
	slices.SortFunc(pri, older)
	slices.SortFunc(rest, older)
	np := min(len(pri), (k+1)/2)
	chosen = make([]string, 0, k)
	for _, c := range pri[:np] {
		chosen = append(chosen, c.sid)
	}
	// The rest by listing age, likely drift or not: a Room never waits
	// behind Rooms listed after it for more than the likely ones' half.
	a, b := pri[np:], rest
	for len(chosen) < k && len(a)+len(b) > 0 {
		if len(b) == 0 || (len(a) > 0 && older(a[0], b[0]) <= 0) {
			chosen, a = append(chosen, a[0].sid), a[1:]
		} else {
			chosen, b = append(chosen, b[0].sid), b[1:]
		}
	}
	return chosen, np
}

// disagreeingLocked returns the Rooms whose counts disagree with what the
// callbacks imply: a JoinToken Participant reservation outstanding (its
// connect was not seen), or a Participant the Client holds that no
// callback or listing showed connected. Requires mu held.
func (m *model) disagreeingLocked() map[string]bool {
	out := make(map[string]bool)
	for room := range m.toksOf {
		if validSID("RM", room) {
			out[room] = true
		} else if sid, ok := m.nameSIDLocked(room); ok {
			out[sid] = true
		}
	}
	for k, r := range m.rooms.All() {
		for _, rec := range r.parts {
			if rec.bits&(idxHeld|idxConn) == idxHeld {
				out[k.String()] = true
				break
			}
		}
	}
	return out
}

// listRooms pages through the in-progress Rooms, one read per page
// (Rooms are listed whatever the budget: they are exact every pass),
// keeping SID, name and creation time only.
func (p *pass) listRooms(ctx context.Context) ([]twilioRoom, error) {
	q := url.Values{"Status": {statusInProgress}, "PageSize": {strconv.Itoa(reconcilePageSize)}}
	p.m.mu.Lock()
	out := make([]twilioRoom, 0, p.m.rooms.Len()+p.m.rooms.Len()/8)
	p.m.mu.Unlock()
	var page []listed
	for {
		if err := p.m.pace(ctx, p.c, p.lim); err != nil {
			return nil, err
		}
		p.d.Requests++
		page = page[:0]
		next, err := p.c.listPage(ctx, "/v1/Rooms", q, "rooms", func(it *listed) {
			if it.Sid != "" && (it.Status == "" || it.Status == statusInProgress) {
				page = append(page, *it)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("video: Reconcile: listing rooms: %w", err)
		}
		for _, it := range page {
			r := twilioRoom{sid: it.Sid, name: it.UniqueName}
			if t, err := time.Parse(time.RFC3339, it.Created); err == nil {
				r.created = stamp(t)
			}
			out = append(out, r)
		}
		if !nextQuery(q, next) {
			return out, nil
		}
	}
}

// listConnected pages through a Room's connected Participants into out,
// one read of the budget per page.
func (p *pass) listConnected(ctx context.Context, roomSID string, out []twilioPart) ([]twilioPart, error) {
	q := url.Values{"Status": {"connected"}, "PageSize": {strconv.Itoa(reconcilePageSize)}}
	for {
		if err := p.read(ctx); err != nil {
			return nil, err
		}
		next, err := p.c.listPage(ctx, "/v1/Rooms/"+url.PathEscape(roomSID)+"/Participants", q, "participants",
			func(it *listed) {
				if it.Sid != "" && it.Status != statusDisconnected {
					out = append(out, twilioPart{sid: it.Sid, room: roomSID, identity: it.Identity})
				}
			})
		if err != nil {
			return nil, fmt.Errorf("video: Reconcile: listing participants of %s: %w", roomSID, err)
		}
		if !nextQuery(q, next) {
			return out, nil
		}
	}
}

// listed is what reconciliation reads of a listed Room or Participant.
type listed struct {
	Sid        string `json:"sid"`
	Status     string `json:"status"`
	UniqueName string `json:"unique_name"`  // Rooms
	Created    string `json:"date_created"` // Rooms: ISO 8601
	Identity   string `json:"identity"`     // Participants
}

// listPage reads one page of a Twilio list (GET path?q) through twilio-go's
// request handler, as the generated Page methods do (the Client's read
// bucket, retries and typed errors), but decodes it as a stream: each
// element of the list named key is decoded into one reused listed and
// passed to each, and the rest of an element is skipped, so that a page
// of 1,000 Rooms costs what its kept fields cost, not a decoded page. It
// returns meta.next_page_url ("" on the last page).
func (c *Client) listPage(ctx context.Context, path string, q url.Values, key string, each func(*listed)) (next string, err error) {
	cl := c.begin(ctx)
	defer c.end(cl)
	resp, err := cl.rh.Get(twilioVideoBase+path, q, map[string]interface{}{"Content-Type": "application/x-www-form-urlencoded"}, "")
	if err = cl.finish(err); err != nil {
		return "", err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	if err := expectDelim(dec, '{'); err != nil {
		return "", err
	}
	var it listed
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", err
		}
		switch t {
		case key:
			if err := expectDelim(dec, '['); err != nil {
				return "", err
			}
			for dec.More() {
				it = listed{}
				if err := dec.Decode(&it); err != nil {
					return "", err
				}
				each(&it)
			}
			if err := expectDelim(dec, ']'); err != nil {
				return "", err
			}
		case "meta":
			var meta struct {
				Next *string `json:"next_page_url"`
			}
			if err := dec.Decode(&meta); err != nil {
				return "", err
			}
			if meta.Next != nil {
				next = *meta.Next
			}
		default:
			if err := dec.Decode(&struct{}{}); err != nil {
				return "", err
			}
		}
	}
	return next, expectDelim(dec, '}')
}

// twilioVideoBase is the Video API's base URL, as twilio-go's ApiService
// has it; WithBaseURL and edges apply in the Client's transport.
const twilioVideoBase = "https://video.twilio.com"

// expectDelim reads the JSON delimiter want from dec.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("video: Reconcile: malformed list page: want %q, got %v", want, t)
	}
	return nil
}

// nextQuery sets q to the next page's PageToken and Page from a
// next_page_url, and reports whether there is a next page.
func nextQuery(q url.Values, next string) bool {
	token, page, ok := nextPage(&next)
	if !ok {
		return false
	}
	q.Del("PageToken")
	q.Del("Page")
	if token != "" {
		q.Set("PageToken", token)
	}
	if page != "" {
		q.Set("Page", page)
	}
	return true
}

// syncParticipants, after a pass that listed every Room, makes the
// ledger's Participant holdings exactly those the model now knows
// connected (Twilio's listings, corrected by the events since): holdings
// no listing accounts for (another process's leftovers, a slot the Client
// held that Twilio never had) are removed.
func (p *pass) syncParticipants(ctx context.Context) error {
	c, m := p.c, p.m
	m.mu.Lock()
	keys := make([]string, 0, len(m.parts))
	for _, r := range m.rooms.All() {
		if r.mark == untracked || r.ended() {
			continue
		}
		for _, rec := range r.parts {
			if rec.bits&(idxHeld|idxConn) != 0 && !rec.ended() {
				keys = append(keys, m.sidLocked(rec.pid()))
			}
		}
	}
	snap := p.win.gen
	m.mu.Unlock()
	added, removed, err := c.ledger.Sync(ctx, quota.Participants, keys, time.Since(p.began))
	if err != nil {
		return err
	}
	p.d.Participants.Added += added
	p.d.Participants.Removed += removed
	p.d.Participants.Twilio = len(keys)
	m.mu.Lock()
	again := p.win.partsAfter(snap)
	m.mu.Unlock()
	return c.replayParts(ctx, again)
}

// roomsAfter returns the window's Room entries recorded after gen.
func (w *reconWindow) roomsAfter(gen int) map[string]winEntry {
	out := make(map[string]winEntry)
	for sid, e := range w.rooms {
		if e.gen > gen {
			out[sid] = e
		}
	}
	return out
}

// partsAfter returns the window's Participant entries recorded after gen.
func (w *reconWindow) partsAfter(gen int) map[string]winEntry {
	out := make(map[string]winEntry)
	for sid, e := range w.parts {
		if e.gen > gen {
			out[sid] = e
		}
	}
	return out
}

// replayRooms applies again, after a Sync, what sources decided about
// Rooms while the reconciliation was applying (the Sync may have undone
// their store operations): each SID is set to what the model says now,
// under its Room's stripe, so that nothing newer is overwritten.
func (c *Client) replayRooms(ctx context.Context, rooms map[string]winEntry) error {
	m := c.model()
	var errs []error
	for sid := range rooms {
		errs = append(errs, c.replayOne(ctx, quota.Rooms, sid, sid, func() bool {
			r, ok := m.trackedRoomLocked(sid)
			return ok && !r.ended()
		}))
	}
	return errors.Join(errs...)
}

// replayParts is replayRooms for Participants.
func (c *Client) replayParts(ctx context.Context, parts map[string]winEntry) error {
	m := c.model()
	var errs []error
	for sid, e := range parts {
		errs = append(errs, c.replayOne(ctx, quota.Participants, sid, e.room, func() bool {
			p, _ := m.partLocked(e.room, sid)
			return p.bits&(idxHeld|idxConn) != 0 && !p.ended()
		}))
	}
	return errors.Join(errs...)
}

// replayOne sets sid of res in the ledger to what the model says now
// (liveLocked, called with mu held), under room's stripe.
func (c *Client) replayOne(ctx context.Context, res quota.Resource, sid, room string, liveLocked func() bool) error {
	m := c.model()
	st := m.stripe(room)
	st.Lock()
	defer st.Unlock()
	m.mu.Lock()
	live := liveLocked()
	m.mu.Unlock()
	if live {
		return c.ledger.Hold(ctx, res, sid, quota.SourceReconcile)
	}
	return c.ledger.Release(ctx, res, sid, quota.SourceReconcile)
}

// pace waits, on the Client's clock, for lim to allow one read.
func (m *model) pace(ctx context.Context, c *Client, lim *rate.Limiter) error {
	now := c.now()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("video: Reconcile: read budget cannot allow a read")
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	// With one Reconcile at a time and a burst of 1, a read waits at most
	// one interval of the rate; a Client clock that does not move (a test's
	// fixed clock) would otherwise make each wait longer than the last.
	if l := lim.Limit(); l != rate.Inf && l > 0 {
		d = min(d, time.Duration(float64(time.Second)/float64(l)))
	}
	if err := m.sleep(ctx, d); err != nil {
		r.CancelAt(c.now())
		return err
	}
	return nil
}

// sleep waits d, or until ctx ends. Tests replace it (sleepFn) to move a
// fake clock instead.
func (m *model) sleep(ctx context.Context, d time.Duration) error {
	if m.sleepFn != nil {
		return m.sleepFn(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// nextPage reads PageToken and Page from a next_page_url.
func nextPage(next *string) (token, page string, ok bool) {
	if next == nil || *next == "" {
		return "", "", false
	}
	u, err := url.Parse(*next)
	if err != nil {
		return "", "", false
	}
	q := u.Query()
	return q.Get("PageToken"), q.Get("Page"), q.Get("PageToken") != "" || q.Get("Page") != ""
}

// RunReconciler calls [Client.Reconcile] every interval until ctx ends, then
// returns ctx's error, or until the Client is closed, then returns
// [ErrClosed] (Close wakes it at once, aborts its requests and waits for it
// to return). Each pass is budgeted for the interval (see the cost model at
// [Client.Reconcile]); a pass that takes longer than the interval is
// followed by the next at once. A failed reconciliation is logged at
// Warn and tried again at the next tick. Run it on its own goroutine; it
// leaves nothing running when it returns.
func (c *Client) RunReconciler(ctx context.Context, every time.Duration, opts ...ReconcileOption) error {
	if every <= 0 {
		return fmt.Errorf("video: RunReconciler(%s): want a positive interval", every)
	}
	cfg, err := buildReconcileConfig(opts)
	if err != nil {
		return err
	}
	cfg.interval = every
	ctx, stop, err := c.startLoop(ctx)
	if err != nil {
		return err
	}
	defer stop()
	for i, fn := range cfg.onDrift {
		cfg.onDrift[i] = func(d Drift) { callback(c.life.callbacks, fn, d) }
	}
	m := c.model()
	next := c.now().Add(every)
	for {
		if d := next.Sub(c.now()); d > 0 {
			if err := m.sleep(ctx, d); err != nil {
				return ended(ctx, ctx.Err())
			}
		} else if err := ctx.Err(); err != nil {
			return ended(ctx, err)
		}
		next = next.Add(every)
		if now := c.now(); next.Before(now) {
			next = now // behind: the next pass starts at once, like a ticker that dropped ticks
		}
		if _, err := c.reconcile(ctx, cfg); err != nil {
			if ctx.Err() != nil {
				return ended(ctx, ctx.Err())
			}
			if errors.Is(err, ErrClosed) {
				return err
			}
			c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: reconciliation failed", slog.String("error", err.Error()))
		}
	}
}
