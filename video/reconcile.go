package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"
	"golang.org/x/time/rate"

	"github.com/videoquota/videoquota/quota"
)

// DefaultReconcileShare is the share of the read quota that reconciliation
// may spend by default: 10%, i.e. 8 requests/s of Twilio's default 80.
const DefaultReconcileShare = 0.1

// reconcilePageSize is the largest page Twilio serves (FACTS §5.4), so that
// N in-progress Rooms cost ⌈N/1000⌉ reads.
const reconcilePageSize = 1000

// Drift is what a reconciliation found the ledger had wrong, per resource.
type Drift struct {
	Rooms        ResourceDrift
	Participants ResourceDrift
	// Requests is how many read requests the reconciliation sent.
	Requests int
	// At is when the ledger was corrected.
	At time.Time
}

// ResourceDrift is the correction of one resource.
type ResourceDrift struct {
	// Twilio is how many Twilio reported (in-progress Rooms, connected Participants).
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

// String summarises the drift.
func (d Drift) String() string {
	return fmt.Sprintf("rooms %d (+%d -%d), participants %d (+%d -%d), %d requests",
		d.Rooms.Twilio, d.Rooms.Added, d.Rooms.Removed,
		d.Participants.Twilio, d.Participants.Added, d.Participants.Removed, d.Requests)
}

// DriftFunc receives the result of each reconciliation; see [OnDrift].
type DriftFunc func(Drift)

// ReconcileOption configures [Client.Reconcile] and [Client.RunReconciler].
type ReconcileOption func(*reconcileConfig) error

type reconcileConfig struct {
	share   float64
	onDrift []DriftFunc
}

// WithReadShare caps the reads reconciliation sends at share (in (0, 1]) of
// the Client's read quota (default [DefaultReconcileShare]), on top of the
// Client's own read bucket, which they also wait for. The cap is kept per
// Client across calls.
func WithReadShare(share float64) ReconcileOption {
	return func(r *reconcileConfig) error {
		if !(share > 0 && share <= 1) {
			return fmt.Errorf("video: WithReadShare(%v): want a share in (0, 1]", share)
		}
		r.share = share
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
	cfg := &reconcileConfig{share: DefaultReconcileShare}
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

// reconWindow records what the model learnt while a reconciliation was
// listing and applying, so that its result does not undo it. Entries are
// recorded when a source decides (before its store operation), numbered,
// so that those decided after the reconciliation computed its sets can be
// applied again once its Sync has run.
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

// Reconcile lists the account's in-progress Rooms (page size 1000) and the
// connected Participants of each, and makes the ledger's holdings exactly
// those ([quota.Ledger.Sync]). It settles the pending reservations the
// listing accounts for: Room creates of this Client whose outcome was
// unknown and that were last on the wire more than [DefaultRequestWindow]
// before the listing started (given back: a Room they created is listed and
// now held), and [Client.JoinToken] reservations whose Room or Participant
// is listed (their callbacks were lost). Other reservations (requests in
// flight, tokens not used yet, other processes' reservations) stay.
// Callbacks that arrive while it lists are not undone.
//
// Its reads go through the Client's read bucket and, in addition, a local
// limiter holding them to [WithReadShare] of the read quota. It returns the
// drift it corrected, logs it at Info when it is not zero, and passes it to
// the [OnDrift] funcs. Threshold crossings it causes are reported with
// [quota.SourceReconcile]. One Reconcile runs at a time per Client; on an
// error (ctx ended, a request failed) the ledger is left unchanged.
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

func (c *Client) reconcile(ctx context.Context, cfg *reconcileConfig) (Drift, error) {
	if err := c.check(ctx); err != nil {
		return Drift{}, err
	}
	m := c.model()
	m.reconMu.Lock()
	defer m.reconMu.Unlock()
	lim := m.readBudget(&m.reconLim, c.limits.ReadsPerSecond*cfg.share)

	win := newReconWindow()
	m.mu.Lock()
	m.recon = win
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.recon = nil
		m.mu.Unlock()
	}()

	var d Drift
	started := c.now()
	listing := time.Now() // the store's holdings are aged in real time
	rooms, err := c.listInProgress(ctx, lim, &d.Requests)
	if err != nil {
		return d, err
	}
	var parts []twilioPart
	for _, r := range rooms {
		ps, err := c.listConnected(ctx, lim, r.sid, &d.Requests)
		if err != nil {
			return d, err
		}
		parts = append(parts, ps...)
	}

	m.mu.Lock()
	roomSet, partSet := m.reconSetsLocked(win, rooms, parts)
	snap := win.gen
	settle := m.settleLocked(c, stamp(started.Add(-DefaultRequestWindow)), roomSet, partSet)
	m.mu.Unlock()

	roomKeys := make([]string, 0, len(roomSet))
	for sid := range roomSet {
		roomKeys = append(roomKeys, sid)
	}
	partKeys := make([]string, 0, len(partSet))
	for sid := range partSet {
		partKeys = append(partKeys, sid)
	}
	bg := context.WithoutCancel(ctx)
	// Holdings added since the listing began (another Client's Rooms) stay.
	keep := time.Since(listing)
	added, removed, err := c.ledger.Sync(bg, quota.Rooms, roomKeys, keep)
	if err != nil {
		return d, err
	}
	d.Rooms = ResourceDrift{Twilio: len(roomKeys), Added: added, Removed: removed}
	added, removed, err = c.ledger.Sync(bg, quota.Participants, partKeys, keep)
	if err != nil {
		return d, err
	}
	d.Participants = ResourceDrift{Twilio: len(partKeys), Added: added, Removed: removed}
	for res, keys := range settle {
		for _, k := range keys {
			if err := c.ledger.Release(bg, quota.Resource(res), k, quota.SourceReconcile); err != nil {
				return d, err
			}
		}
	}
	d.Rooms.Settled, d.Participants.Settled = len(settle[quota.Rooms]), len(settle[quota.Participants])

	m.mu.Lock()
	againRooms, againParts := win.after(snap)
	m.adoptLocked(c, roomSet, partSet, againRooms, againParts)
	m.recon = nil
	m.mu.Unlock()
	if err := c.replay(bg, againRooms, againParts); err != nil {
		return d, err
	}

	d.At = c.now()
	c.metrics.reconciled(ctx, d)
	if !d.Zero() {
		c.logger.LogAttrs(ctx, slog.LevelInfo, "videoquota: reconciled the ledger with Twilio",
			slog.Int("rooms", d.Rooms.Twilio), slog.Int("rooms_added", d.Rooms.Added),
			slog.Int("rooms_removed", d.Rooms.Removed), slog.Int("rooms_settled", d.Rooms.Settled),
			slog.Int("participants", d.Participants.Twilio),
			slog.Int("participants_added", d.Participants.Added),
			slog.Int("participants_removed", d.Participants.Removed),
			slog.Int("participants_settled", d.Participants.Settled), slog.Int("requests", d.Requests))
	}
	for _, fn := range cfg.onDrift {
		fn(d)
	}
	return d, nil
}

// reconSetsLocked is what Twilio listed, corrected by what the window
// recorded while it listed. Requires mu held.
func (m *model) reconSetsLocked(win *reconWindow, rooms []twilioRoom, parts []twilioPart) (map[string]string, map[string]twilioPart) {
	roomSet := make(map[string]string, len(rooms)) // SID -> name
	for _, r := range rooms {
		if e, ok := win.rooms[r.sid]; !ok || e.on {
			roomSet[r.sid] = r.name
		}
	}
	for sid, e := range win.rooms {
		if _, ok := roomSet[sid]; e.on && !ok {
			roomSet[sid] = m.nameOfLocked(sid)
		}
	}
	partSet := make(map[string]twilioPart, len(parts))
	for _, p := range parts {
		if _, ok := roomSet[p.room]; !ok {
			continue // the Room ended while listing
		}
		if e, ok := win.parts[p.sid]; ok && !e.on {
			continue // disconnected while listing
		}
		partSet[p.sid] = p
	}
	for sid, e := range win.parts {
		if _, ok := partSet[sid]; e.on && !ok {
			partSet[sid] = twilioPart{sid: sid, room: e.room}
		}
	}
	return roomSet, partSet
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

// settleLocked takes out the pending reservations a listing accounts for
// and returns their ledger keys, per resource: creates of this Client whose
// outcome was unknown since before cut (µs), and JoinToken reservations of
// listed Rooms and Participants. Requires mu held.
func (m *model) settleLocked(c *Client, cut int64, rooms map[string]string, parts map[string]twilioPart) [2][]string {
	var out [2][]string
	for k, rec := range m.creates {
		if rec.unknown && rec.settled == "" && rec.sent < cut {
			delete(m.creates, k)
			out[quota.Rooms] = append(out[quota.Rooms], k)
		}
	}
	for _, name := range rooms {
		if t, ok := m.roomToks[name]; ok && name != "" && t.made && t.isReady() && t.err == nil {
			delete(m.roomToks, name)
			out[quota.Rooms] = append(out[quota.Rooms], t.key)
		}
	}
	for _, p := range parts {
		if p.identity == "" {
			continue
		}
		for _, room := range [...]string{rooms[p.room], p.room} {
			if room == "" {
				continue
			}
			k := ParticipantReservationKey(room, p.identity)
			if t, ok := m.partToks[k]; ok && t.made && t.isReady() && t.err == nil {
				m.dropTokLocked(k, t)
				out[quota.Participants] = append(out[quota.Participants], t.key)
			}
		}
	}
	return out
}

// after returns the window's entries recorded after gen.
func (w *reconWindow) after(gen int) (rooms, parts map[string]winEntry) {
	rooms, parts = make(map[string]winEntry), make(map[string]winEntry)
	for sid, e := range w.rooms {
		if e.gen > gen {
			rooms[sid] = e
		}
	}
	for sid, e := range w.parts {
		if e.gen > gen {
			parts[sid] = e
		}
	}
	return rooms, parts
}

// replay applies again, after a Sync, what sources decided while the
// reconciliation was applying (the Sync may have undone their store
// operations): each SID is set to what the model says now, under its Room's
// stripe, so that nothing newer is overwritten.
func (c *Client) replay(ctx context.Context, rooms, parts map[string]winEntry) error {
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

// adoptLocked makes the model agree with Twilio's lists: Rooms and
// Participants no longer listed are ended, listed ones in progress.
// SIDs that sources decided about after the sets were computed (skipRooms,
// skipParts) keep what those sources said.
func (m *model) adoptLocked(c *Client, rooms map[string]string, parts map[string]twilioPart, skipRooms, skipParts map[string]winEntry) {
	now := m.nowLocked(c)
	for sid := range skipRooms {
		delete(rooms, sid)
	}
	for sid := range skipParts {
		delete(parts, sid)
	}
	for sid, r := range m.rooms {
		if _, skip := skipRooms[sid]; skip {
			continue
		}
		if _, ok := rooms[sid]; !ok && r.mark != untracked && !r.ended() {
			r.mark = endedAt(now) // its name is dropped by inProgressLocked
			m.rooms[sid] = r
		}
	}
	for sid := range m.parts {
		if _, skip := skipParts[sid]; skip {
			continue
		}
		if p, known := m.partLocked(sid); known && !p.ended() {
			if _, ok := parts[sid]; !ok {
				m.trackPartLocked(sid, endedAt(now), 0)
				m.unindexLocked(sid, idxHeld|idxConn)
			}
		}
	}
	for sid, name := range rooms {
		r, _ := m.roomLocked(sid)
		if r.sid == "" {
			r.sid = strings.Clone(sid)
		}
		r.mark = inProgress(r.at()) // Twilio lists it in progress (SIDs are never reused)
		m.rooms[r.sid] = r
		m.nameLocked(name, r.sid)
		m.takeRoomLocked(r.sid, idxConn) // set again below for those listed
	}
	for sid, p := range parts {
		t, _ := m.partLocked(sid)
		m.trackPartLocked(strings.Clone(sid), inProgress(t.at()), m.identHash(p.identity))
		room := p.room
		if r, ok := m.rooms[room]; ok {
			room = r.sid
		}
		m.indexLocked(room, sid, idxHeld|idxConn)
	}
}

// listInProgress pages through the in-progress Rooms, one local token per page.
func (c *Client) listInProgress(ctx context.Context, lim *rate.Limiter, requests *int) ([]twilioRoom, error) {
	status, size := statusInProgress, reconcilePageSize
	params := &openapi.ListRoomParams{Status: &status, PageSize: &size}
	var out []twilioRoom
	token, page := "", ""
	for {
		if err := lim.Wait(ctx); err != nil {
			return nil, err
		}
		*requests++
		resp, err := c.PageRoom(ctx, params, token, page)
		if err != nil {
			return nil, fmt.Errorf("video: Reconcile: listing rooms: %w", err)
		}
		for _, r := range resp.Rooms {
			if r.Sid == nil || (r.Status != nil && *r.Status != statusInProgress) {
				continue
			}
			out = append(out, twilioRoom{sid: *r.Sid, name: strOr(r.UniqueName)})
		}
		var ok bool
		if token, page, ok = nextPage(resp.Meta.NextPageUrl); !ok {
			return out, nil
		}
	}
}

// listConnected pages through a Room's connected Participants.
func (c *Client) listConnected(ctx context.Context, lim *rate.Limiter, roomSID string, requests *int) ([]twilioPart, error) {
	status, size := "connected", reconcilePageSize
	params := &openapi.ListRoomParticipantParams{Status: &status, PageSize: &size}
	var out []twilioPart
	token, page := "", ""
	for {
		if err := lim.Wait(ctx); err != nil {
			return nil, err
		}
		*requests++
		resp, err := c.PageRoomParticipant(ctx, roomSID, params, token, page)
		if err != nil {
			return nil, fmt.Errorf("video: Reconcile: listing participants of %s: %w", roomSID, err)
		}
		for _, p := range resp.Participants {
			if p.Sid == nil || (p.Status != nil && *p.Status == statusDisconnected) {
				continue
			}
			out = append(out, twilioPart{sid: *p.Sid, room: roomSID, identity: strOr(p.Identity)})
		}
		var ok bool
		if token, page, ok = nextPage(resp.Meta.NextPageUrl); !ok {
			return out, nil
		}
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
// to return). A failed reconciliation is logged at Warn and tried again at
// the next tick. Run it on its own goroutine; it leaves nothing running when
// it returns.
func (c *Client) RunReconciler(ctx context.Context, every time.Duration, opts ...ReconcileOption) error {
	if every <= 0 {
		return fmt.Errorf("video: RunReconciler(%s): want a positive interval", every)
	}
	cfg, err := buildReconcileConfig(opts)
	if err != nil {
		return err
	}
	ctx, release, err := c.bind(ctx)
	if err != nil {
		return err
	}
	defer release()
	if !c.startWorker() {
		return ErrClosed
	}
	defer c.life.workers.Done()
	for i, fn := range cfg.onDrift {
		cfg.onDrift[i] = func(d Drift) { callback(c.life.callbacks, fn, d) }
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ended(ctx, ctx.Err())
		case <-t.C:
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
