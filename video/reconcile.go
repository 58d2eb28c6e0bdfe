package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
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
}

// Zero reports whether the ledger was already right.
func (d Drift) Zero() bool {
	return d.Rooms.Added == 0 && d.Rooms.Removed == 0 && d.Participants.Added == 0 && d.Participants.Removed == 0
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

// reconWindow records what callbacks changed while a reconciliation was
// listing, so that its result does not undo them.
type reconWindow struct {
	rooms map[string]bool // Room SID -> in progress
	parts map[string]bool // Participant SID -> connected
}

// room records a Room event; a nil window records nothing.
func (w *reconWindow) room(sid string, inProgress bool) {
	if w != nil {
		w.rooms[sid] = inProgress
	}
}

// part records a Participant event; a nil window records nothing.
func (w *reconWindow) part(sid string, connected bool) {
	if w != nil {
		w.parts[sid] = connected
	}
}

// twilioRoom is an in-progress Room as listed.
type twilioRoom struct{ sid, name string }

// twilioPart is a connected Participant as listed.
type twilioPart struct{ sid, room string }

// Reconcile lists the account's in-progress Rooms (page size 1000) and the
// connected Participants of each, and makes the ledger's holdings exactly
// those ([quota.Ledger.Sync]); pending reservations (Rooms being created,
// unused JoinToken slots) stay. Callbacks that arrive while it lists are not
// undone. Completed Rooms are never listed.
//
// Its reads go through the Client's read bucket and, in addition, a local
// limiter holding them to [WithReadShare] of the read quota. It returns the
// drift it corrected, logs it at Info when it is not zero, and passes it to
// the [OnDrift] funcs. Threshold crossings it causes are reported with
// [quota.SourceReconcile]. One Reconcile runs at a time per Client; on an
// error (ctx ended, a request failed) the ledger is left unchanged.
func (c *Client) Reconcile(ctx context.Context, opts ...ReconcileOption) (Drift, error) {
	cfg, err := buildReconcileConfig(opts)
	if err != nil {
		return Drift{}, err
	}
	return c.reconcile(ctx, cfg)
}

func (c *Client) reconcile(ctx context.Context, cfg *reconcileConfig) (Drift, error) {
	if c.closed.Load() {
		return Drift{}, ErrClosed
	}
	st := c.eventState()
	st.reconMu.Lock()
	defer st.reconMu.Unlock()
	lim := st.readBudget(&st.reconLim, c.limits.ReadsPerSecond*cfg.share)

	win := &reconWindow{rooms: make(map[string]bool), parts: make(map[string]bool)}
	st.mu.Lock()
	st.recon = win
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.recon = nil
		st.mu.Unlock()
	}()

	var d Drift
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

	st.mu.Lock()
	defer st.mu.Unlock()
	roomSet := make(map[string]string, len(rooms)) // SID -> name
	for _, r := range rooms {
		if in, ok := win.rooms[r.sid]; !ok || in {
			roomSet[r.sid] = r.name
		}
	}
	var nameOf map[string]string // Room SID -> UniqueName, made when needed
	for sid, in := range win.rooms {
		if in {
			if _, ok := roomSet[sid]; !ok {
				if nameOf == nil {
					nameOf = make(map[string]string, len(st.names))
					for name, sid := range st.names {
						nameOf[sid] = name
					}
				}
				roomSet[sid] = nameOf[sid]
			}
		}
	}
	partSet := make(map[string]twilioPart, len(parts))
	for _, p := range parts {
		if _, ok := roomSet[p.room]; !ok {
			continue // the Room ended while listing
		}
		if on, ok := win.parts[p.sid]; ok && !on {
			continue // disconnected while listing
		}
		partSet[p.sid] = p
	}
	for sid, on := range win.parts {
		if on {
			if _, ok := partSet[sid]; !ok {
				if t, known := st.partLocked(sid); known {
					partSet[sid] = twilioPart{sid: sid, room: t.room}
				}
			}
		}
	}
	roomKeys := make([]string, 0, len(roomSet))
	for sid := range roomSet {
		roomKeys = append(roomKeys, sid)
	}
	partKeys := make([]string, 0, len(partSet))
	for sid := range partSet {
		partKeys = append(partKeys, sid)
	}
	bg := context.WithoutCancel(ctx)
	added, removed, err := c.ledger.Sync(bg, quota.Rooms, roomKeys)
	if err != nil {
		return d, err
	}
	d.Rooms = ResourceDrift{Twilio: len(roomKeys), Added: added, Removed: removed}
	added, removed, err = c.ledger.Sync(bg, quota.Participants, partKeys)
	if err != nil {
		return d, err
	}
	d.Participants = ResourceDrift{Twilio: len(partKeys), Added: added, Removed: removed}
	st.adoptLocked(c, roomSet, partSet)
	d.At = c.now()
	c.metrics.reconciled(ctx, d)
	if !d.Zero() {
		c.logger.LogAttrs(ctx, slog.LevelInfo, "videoquota: reconciled the ledger with Twilio",
			slog.Int("rooms", d.Rooms.Twilio), slog.Int("rooms_added", d.Rooms.Added),
			slog.Int("rooms_removed", d.Rooms.Removed), slog.Int("participants", d.Participants.Twilio),
			slog.Int("participants_added", d.Participants.Added),
			slog.Int("participants_removed", d.Participants.Removed), slog.Int("requests", d.Requests))
	}
	for _, fn := range cfg.onDrift {
		fn(d)
	}
	return d, nil
}

// adoptLocked makes the callback memory agree with Twilio's lists: Rooms
// and Participants no longer listed are ended, listed ones in progress.
func (s *eventState) adoptLocked(c *Client, rooms map[string]string, parts map[string]twilioPart) {
	now := stamp(c.now())
	for sid, r := range s.rooms {
		if _, ok := rooms[sid]; !ok && r.mark != untracked && !r.ended() {
			r.mark = endedAt(now) // its name is dropped by roomInProgressLocked
			s.rooms[sid] = r
		}
	}
	for sid := range s.parts {
		if p, known := s.partLocked(sid); known && !p.ended() {
			if _, ok := parts[sid]; !ok {
				s.trackPartLocked(sid, endedAt(now))
				s.unindexLocked(sid, idxHeld|idxConn)
			}
		}
	}
	for sid, name := range rooms {
		r, _ := s.roomLocked(sid)
		r.mark = inProgress(r.at()) // Twilio lists it in progress (SIDs are never reused)
		s.rooms[r.sid] = r
		s.nameLocked(name, r.sid)
		s.takeRoomLocked(r.sid, idxConn) // set again below for those listed
	}
	for sid, p := range parts {
		t, _ := s.partLocked(sid)
		s.trackPartLocked(sid, inProgress(t.at())) // Twilio lists it connected
		room := p.room
		if r, ok := s.rooms[room]; ok {
			room = r.sid
		}
		s.indexLocked(room, sid, idxHeld|idxConn)
	}
}

// readBudget returns the limiter in *slot, made or re-rated to perSecond
// (unlimited when perSecond is not positive: the Client's bucket still applies).
func (s *eventState) readBudget(slot **rate.Limiter, perSecond float64) *rate.Limiter {
	lim := rate.Inf
	if perSecond > 0 {
		lim = rate.Limit(perSecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if *slot == nil {
		*slot = rate.NewLimiter(lim, 1)
	} else if (*slot).Limit() != lim {
		(*slot).SetLimit(lim)
	}
	return *slot
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
			out = append(out, twilioPart{sid: *p.Sid, room: roomSID})
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
