package video

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"
	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
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
type twilioRoom struct{ sid, name string }

// twilioPart is a connected Participant as listed.
type twilioPart struct{ sid, room, identity string }

// DefaultRequestWindow bounds how long after a request was last on the
// wire Twilio may still act on it. A Room create whose outcome is unknown
// (see [Client.CreateRoom]) and older than this when a [Client.Reconcile]
// starts listing is settled by that listing: if the Room exists, the
// listing shows it. It is twice [DefaultTimeout], the longest a Client
// waits for one answer.
const DefaultRequestWindow = 2 * DefaultTimeout

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
//     connected). The rest go round robin to the Rooms listed least
//     recently. When a pass lists every Room, the ledger's Participant
//     holdings are then made exactly the Participants listed.
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
// through the Client's read bucket too. Memory is in proportion to a page:
// Room listings are folded into the Client's model page by page, and one
// Room's Participants are applied before the next Room is listed.
//
// # Pending reservations
//
// It settles the pending reservations the listing accounts for: Room
// creates of this Client whose outcome was unknown and that were last on
// the wire more than [DefaultRequestWindow] before the listing started
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
func (c *Client) Reconcile(ctx context.Context, opts ...ReconcileOption) (Drift, error) {
	if err := c.check(ctx); err != nil {
		return Drift{}, err
	}
	cfg, err := buildReconcileConfig(opts)
	if err != nil {
		return Drift{}, err
	}
	return c.reconcile(ctx, cfg)
}

// pass is one reconciliation.
type pass struct {
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
	rooms, err := p.listRooms(ctx)
	if err != nil {
		return p.d, err
	}
	bg := context.WithoutCancel(ctx)
	live, gone, err := p.syncRooms(bg, rooms, stamp(started.Add(-DefaultRequestWindow)))
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
// listing accounts for, and records the listing in the model. It returns
// the Rooms in progress (interned SIDs) and the Rooms the model held in
// progress that Twilio no longer lists.
func (p *pass) syncRooms(ctx context.Context, rooms []twilioRoom, cut int64) (live, gone []string, err error) {
	c, m := p.c, p.m
	m.mu.Lock()
	set := m.roomSetLocked(p.win, rooms)
	snap := p.win.gen
	settled := m.settleRoomsLocked(cut, set)
	keys := make([]string, 0, len(set))
	for sid := range set {
		keys = append(keys, sid)
	}
	m.mu.Unlock()

	added, removed, err := c.ledger.Sync(ctx, quota.Rooms, keys)
	if err != nil {
		return nil, nil, err
	}
	p.d.Rooms = ResourceDrift{Twilio: len(keys), Added: added, Removed: removed, Settled: len(settled)}
	for _, k := range settled {
		if err := c.ledger.Release(ctx, quota.Rooms, k, quota.SourceReconcile); err != nil {
			return nil, nil, err
		}
	}

	m.mu.Lock()
	gone = m.adoptRoomsLocked(c, set)
	live = make([]string, 0, len(set))
	for sid := range set {
		if r, ok := m.rooms[sid]; ok {
			sid = r.sid
		}
		live = append(live, sid)
	}
	again := p.win.roomsAfter(snap)
	m.mu.Unlock()
	return live, gone, c.replayRooms(ctx, again)
}

// roomSetLocked is what Twilio listed, corrected by what the window
// recorded while it listed: SID -> UniqueName. Requires mu held.
func (m *model) roomSetLocked(win *reconWindow, rooms []twilioRoom) map[string]string {
	set := make(map[string]string, len(rooms))
	for _, r := range rooms {
		if e, ok := win.rooms[r.sid]; !ok || e.on {
			set[r.sid] = r.name
		}
	}
	for sid, e := range win.rooms {
		if _, ok := set[sid]; e.on && !ok {
			set[sid] = ""
		}
	}
	return set
}

// settleRoomsLocked takes out the pending Room reservations a listing
// accounts for and returns their ledger keys: creates of this Client whose
// outcome was unknown since before cut (µs), and JoinToken reservations of
// listed Room names. Requires mu held.
func (m *model) settleRoomsLocked(cut int64, rooms map[string]string) []string {
	var out []string
	for k, rec := range m.creates {
		if rec.unknown && rec.settled == "" && rec.sent < cut {
			delete(m.creates, k)
			out = append(out, k)
		}
	}
	if len(m.roomToks) == 0 {
		return out
	}
	for _, name := range rooms {
		if t, ok := m.roomToks[name]; ok && name != "" && t.made && t.isReady() && t.err == nil {
			delete(m.roomToks, name)
			out = append(out, t.key)
		}
	}
	return out
}

// adoptRoomsLocked makes the model's Rooms agree with the listing: listed
// ones in progress (with their names), and returns those it knew in
// progress that are not listed any more, for endGone. Requires mu held.
func (m *model) adoptRoomsLocked(c *Client, rooms map[string]string) (gone []string) {
	for sid, r := range m.rooms {
		if _, ok := rooms[sid]; !ok && r.mark != untracked && !r.ended() {
			gone = append(gone, r.sid)
		}
	}
	for sid, name := range rooms {
		r, isNew := m.roomLocked(sid)
		if isNew {
			// Twilio lists it in progress (SIDs are never reused). sid is
			// the listing's own string, not a page's memory.
			r.mark = inProgress(0)
			m.rooms[r.sid] = r
		}
		m.nameLocked(name, r.sid)
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
		if _, known := m.partLocked(t.sid); known {
			m.trackPartLocked(t.sid, endedAt(now), 0)
		}
	}
	r = m.rooms[sid]
	r.mark = endedAt(now) // its name is dropped by inProgressLocked
	m.storeRoomLocked(r)
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
		t, known := m.partLocked(lp.sid)
		switch {
		case known && t.ended():
			continue // its end was seen: the listing is older
		case known && t.room == r.sid && t.bits&(idxHeld|idxConn) != 0:
			m.indexLocked(r.sid, m.partSIDLocked(r, lp.sid), idxConn)
		default:
			add = append(add, lp)
		}
	}
	var drop []string
	for _, psid := range r.parts {
		t := m.parts[psid]
		if t.bits&(idxHeld|idxConn) == 0 || t.ended() || listedIn(listed, psid) {
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
		m.unindexLocked(psid, idxHeld|idxConn)
		m.trackPartLocked(psid, endedAt(now), 0)
	}
	for _, lp := range add {
		psid := lp.sid // the listing's own string, not a page's memory
		t, _ := m.partLocked(psid)
		m.trackPartLocked(psid, inProgress(t.at()), m.identHash(lp.identity))
		m.indexLocked(r.sid, psid, idxHeld|idxConn)
	}
	r = m.rooms[r.sid]
	r.listed, r.flags = m.passes, r.flags&^roomHot
	m.rooms[r.sid] = r
	p.d.Participants.Twilio += m.liveInLocked(r.sid)
	return nil
}

// partSIDLocked returns the model's copy of Participant SID sid, indexed
// in r. Requires mu held.
func (m *model) partSIDLocked(r roomTrack, sid string) string {
	for _, psid := range r.parts {
		if psid == sid {
			return psid
		}
	}
	return sid
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
	for _, psid := range m.rooms[sid].parts {
		if t := m.parts[psid]; t.bits&(idxHeld|idxConn) != 0 && !t.ended() {
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
	name := m.nameOfLocked(sid)
	var out []string
	for _, lp := range parts {
		if lp.identity == "" {
			continue
		}
		for _, room := range [...]string{name, sid} {
			if room == "" {
				continue
			}
			k := ParticipantReservationKey(room, lp.identity)
			if t, ok := m.partToks[k]; ok && t.made && t.isReady() && t.err == nil {
				m.dropTokLocked(k, t)
				out = append(out, t.key)
			}
		}
	}
	return out
}

// nameOfLocked returns the UniqueName the model knows for Room sid.
func (m *model) nameOfLocked(sid string) string {
	for name, s := range m.names {
		if s == sid {
			return name
		}
	}
	return ""
}

// chooseLocked returns the Rooms of live whose Participants the pass lists,
// at most k of them (k < 0: all), and how many were prioritised: up to half
// (more when the round robin has fewer Rooms) go to Rooms where drift is
// likely (see [Client.Reconcile]), least recently listed first, the rest to
// the other Rooms least recently listed. Requires mu held.
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
	var pri, rest []cand
	for _, sid := range live {
		r := m.rooms[sid]
		c := cand{sid, r.listed}
		if r.flags&roomHot != 0 || (r.flags&roomHeard == 0 && (r.flags&roomOwn != 0 || r.listed == 0)) || likely[sid] {
			pri = append(pri, c)
		} else {
			rest = append(rest, c)
		}
	}
	older := func(a, b cand) int {
		if a.listed != b.listed {
			return cmp.Compare(a.listed, b.listed)
		}
		return strings.Compare(a.sid, b.sid)
	}
	np := min(len(pri), max(k-len(rest), (k+1)/2))
	nr := min(len(rest), k-np)
	np = min(len(pri), k-nr)
	slices.SortFunc(pri, older)
	slices.SortFunc(rest, older)
	pri, rest = pri[:np], rest[:nr]
	chosen = make([]string, 0, np+nr)
	for _, c := range pri {
		chosen = append(chosen, c.sid)
	}
	for _, c := range rest {
		chosen = append(chosen, c.sid)
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
		} else if sid, ok := m.names[room]; ok {
			out[sid] = true
		}
	}
	for sid, r := range m.rooms {
		for _, psid := range r.parts {
			if m.parts[psid].bits&(idxHeld|idxConn) == idxHeld {
				out[sid] = true
				break
			}
		}
	}
	return out
}

// listRooms pages through the in-progress Rooms, one read of the budget
// per page, keeping SID and name only.
func (p *pass) listRooms(ctx context.Context) ([]twilioRoom, error) {
	c := p.c
	status, size := statusInProgress, reconcilePageSize
	params := &openapi.ListRoomParams{Status: &status, PageSize: &size}
	var out []twilioRoom
	token, page := "", ""
	for {
		if err := p.m.pace(ctx, c, p.lim); err != nil {
			return nil, err
		}
		p.d.Requests++ // Rooms are listed whatever the budget: they are exact every pass
		resp, err := c.PageRoom(ctx, params, token, page)
		if err != nil {
			return nil, fmt.Errorf("video: Reconcile: listing rooms: %w", err)
		}
		p.m.mu.Lock()
		for _, r := range resp.Rooms {
			if r.Sid == nil || (r.Status != nil && *r.Status != statusInProgress) {
				continue
			}
			out = append(out, twilioRoom{sid: p.m.knownSIDLocked(*r.Sid), name: strOr(r.UniqueName)})
		}
		p.m.mu.Unlock()
		var ok bool
		if token, page, ok = nextPage(resp.Meta.NextPageUrl); !ok {
			return out, nil
		}
	}
}

// knownSIDLocked returns the model's copy of Room SID sid if it has one,
// so that a listing keeps no second copy. Requires mu held.
func (m *model) knownSIDLocked(sid string) string {
	if r, ok := m.rooms[sid]; ok {
		return r.sid
	}
	return sid
}

// listConnected pages through a Room's connected Participants into out.
func (p *pass) listConnected(ctx context.Context, roomSID string, out []twilioPart) ([]twilioPart, error) {
	status, size := "connected", reconcilePageSize
	params := &openapi.ListRoomParticipantParams{Status: &status, PageSize: &size}
	token, page := "", ""
	for {
		if err := p.read(ctx); err != nil {
			return nil, err
		}
		resp, err := p.c.PageRoomParticipant(ctx, roomSID, params, token, page)
		if err != nil {
			return nil, fmt.Errorf("video: Reconcile: listing participants of %s: %w", roomSID, err)
		}
		for _, pt := range resp.Participants {
			if pt.Sid == nil || (pt.Status != nil && *pt.Status == statusDisconnected) {
				continue
			}
			out = append(out, twilioPart{sid: *pt.Sid, room: roomSID, identity: strOr(pt.Identity)})
		}
		var ok bool
		if token, page, ok = nextPage(resp.Meta.NextPageUrl); !ok {
			return out, nil
		}
	}
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
	for _, r := range m.rooms {
		if r.mark == untracked || r.ended() {
			continue
		}
		for _, psid := range r.parts {
			if t := m.parts[psid]; t.bits&(idxHeld|idxConn) != 0 && !t.ended() {
				keys = append(keys, psid)
			}
		}
	}
	snap := p.win.gen
	m.mu.Unlock()
	added, removed, err := c.ledger.Sync(ctx, quota.Participants, keys)
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
		st := m.stripe(sid)
		st.Lock()
		m.mu.Lock()
		r, ok := m.trackedRoomLocked(sid)
		live := ok && !r.ended()
		m.mu.Unlock()
		var err error
		if live {
			err = c.ledger.Hold(ctx, quota.Rooms, sid, quota.SourceReconcile)
		} else {
			err = c.ledger.Release(ctx, quota.Rooms, sid, quota.SourceReconcile)
		}
		st.Unlock()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// replayParts is replayRooms for Participants.
func (c *Client) replayParts(ctx context.Context, parts map[string]winEntry) error {
	m := c.model()
	var errs []error
	for sid, e := range parts {
		st := m.stripe(e.room)
		st.Lock()
		m.mu.Lock()
		p, ok := m.parts[sid]
		live := ok && p.bits&(idxHeld|idxConn) != 0 && !p.ended()
		m.mu.Unlock()
		var err error
		if live {
			err = c.ledger.Hold(ctx, quota.Participants, sid, quota.SourceReconcile)
		} else {
			err = c.ledger.Release(ctx, quota.Participants, sid, quota.SourceReconcile)
		}
		st.Unlock()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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
// returns ctx's error, budgeting each pass for the interval (see the cost
// model at [Client.Reconcile]). A pass that takes longer than the interval
// is followed by the next at once. A failed reconciliation is logged at
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
	m := c.model()
	next := c.now().Add(every)
	for {
		if d := next.Sub(c.now()); d > 0 {
			if err := m.sleep(ctx, d); err != nil {
				return ctx.Err()
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		next = next.Add(every)
		if now := c.now(); next.Before(now) {
			next = now // behind: the next pass starts at once, like a ticker that dropped ticks
		}
		if _, err := c.reconcile(ctx, cfg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, ErrClosed) {
				return err
			}
			c.logger.LogAttrs(ctx, slog.LevelWarn, "videoquota: reconciliation failed", slog.String("error", err.Error()))
		}
	}
}
