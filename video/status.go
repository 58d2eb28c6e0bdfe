package video

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	openapi "github.com/twilio/twilio-go/rest/video/v1"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/forecast"
)

// What a Client keeps for its status page, the forecast and the peak
// report: rings of fixed size, so that its memory does not grow with
// traffic or time.

// DefaultPeakPeriod is how long the peak report keeps each hour's peak: 31
// days, a month of figures to send when asking Twilio for a higher quota.
const DefaultPeakPeriod = 31 * 24 * time.Hour

// MaxPeakPeriod is the longest [WithPeakPeriod]: 400 days.
const MaxPeakPeriod = backend.MaxPeakHours * time.Hour

// Sizes of the status rings.
const (
	statusEvents = 64 // recent threshold, throttle, forecast and reconcile events
	statusRooms  = 32 // recent Rooms seen created or ended
	maxRoomName  = 128
)

// WithForecast calls fn when both windows of the usage trend of Rooms or
// Participants predict the quota reached within cfg.Horizon, and once when
// they stop (with cfg.Hysteresis), beside the threshold levels of
// [WithThresholds]; see [forecast.Watch]. Zero fields of cfg take
// quota's defaults (windows of 5 minutes and 1 hour, a 30-minute horizon).
// The Client then samples usage from the store every cfg.Step of real
// time (a [WithClock] clock does not drive it) on a goroutine of its own,
// which Close ends; fn runs on that goroutine,
// outside every lock. Without this option the forecast of [Client.Usage]
// and of the status page still runs, on the default configuration, from
// the usage the Client observes.
func WithForecast(fn quota.ForecastFunc, cfg forecast.Config) Option {
	return func(s *settings) error {
		if fn == nil {
			return optErr("WithForecast", "nil ForecastFunc")
		}
		if err := cfg.Validate(); err != nil {
			return &ConfigError{Option: "WithForecast", Err: err}
		}
		s.status.forecast = cfg
		s.status.forecastFn = fn
		return nil
	}
}

// WithPeakPeriod keeps the peak report's hourly peaks for d (default
// [DefaultPeakPeriod]; from one hour to [MaxPeakPeriod]).
func WithPeakPeriod(d time.Duration) Option {
	return func(s *settings) error {
		if d < time.Hour || d > MaxPeakPeriod {
			return optErr("WithPeakPeriod", "%s: want 1h to %s", d, MaxPeakPeriod)
		}
		s.status.peakPeriod = d
		return nil
	}
}

// statusRecorder is what a Client keeps for its status: the usage trends,
// the local part of the peak report, and rings of recent events and Rooms.
type statusRecorder struct {
	c      *Client
	trend  [2]*forecast.Trend
	period time.Duration
	peaks  peakTable

	fn    quota.ForecastFunc // nil unless WithForecast
	watch [2]*forecast.Watch

	mu     sync.Mutex // guards the rings; held for copies only
	events ring[StatusEvent]
	rooms  ring[StatusRoom]
	full   [2]StatusEvent // the last Twilio refusal per resource (why it is marked full)
	drift  *Drift

	hist [2]historyCache // the charts' past steps, per resource

	peakCache atomic.Pointer[storePeaks]
	peakBusy  atomic.Bool

	// gen counts changes of what the status shows (usage, events, Rooms),
	// so that the served snapshot is rebuilt only when it is stale.
	gen      atomic.Uint64
	lastUsed [2]atomic.Int64
	snap     atomic.Pointer[statusSnapshot]
	building atomic.Bool
}

// statusSettings is what the options say about the status.
type statusSettings struct {
	forecast   forecast.Config
	forecastFn quota.ForecastFunc
	peakPeriod time.Duration
}

func newStatusRecorder(c *Client, s *statusSettings) (*statusRecorder, error) {
	r := &statusRecorder{c: c, period: s.peakPeriod, fn: s.forecastFn}
	if r.period == 0 {
		r.period = DefaultPeakPeriod
	}
	for i := range r.trend {
		t, err := forecast.NewTrend(s.forecast)
		if err != nil {
			return nil, &ConfigError{Option: "WithForecast", Err: err}
		}
		r.trend[i] = t
		if r.fn != nil {
			if r.watch[i], err = forecast.NewWatch(s.forecast); err != nil {
				return nil, &ConfigError{Option: "WithForecast", Err: err}
			}
		}
	}
	r.peaks.init(r.period)
	r.events.init(statusEvents)
	r.rooms.init(statusRooms)
	return r, nil
}

// ledgerStore returns st with every ledger operation's resulting usage
// observed by r (the trend and the peak report).
func (r *statusRecorder) ledgerStore(st backend.Store) backend.Store {
	o := observedStore{Store: st, r: r}
	if ls, ok := st.(backend.LimitsStore); ok {
		// The ledger enforces the account's limits the store keeps.
		return struct {
			observedStore
			backend.LimitsStore
		}{o, ls}
	}
	return o
}

// observedStore observes the usage each ledger operation leaves.
type observedStore struct {
	backend.Store
	r *statusRecorder
}

func (o observedStore) seen(ctx context.Context, res backend.Resource, c backend.Change, err error) {
	if err == nil {
		o.r.observe(ctx, quota.Resource(res), c.Used, o.r.c.now())
	}
}

func (o observedStore) Reserve(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	c, err := o.Store.Reserve(ctx, account, res, key, b, ttl)
	o.seen(ctx, res, c, err)
	return c, err
}

func (o observedStore) Commit(ctx context.Context, account string, res backend.Resource, key, holdKey string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	c, err := o.Store.Commit(ctx, account, res, key, holdKey, b, ttl)
	o.seen(ctx, res, c, err)
	return c, err
}

func (o observedStore) Hold(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds, ttl time.Duration) (backend.Change, error) {
	c, err := o.Store.Hold(ctx, account, res, key, b, ttl)
	o.seen(ctx, res, c, err)
	return c, err
}

func (o observedStore) Release(ctx context.Context, account string, res backend.Resource, key string, b *backend.Bounds) (backend.Change, error) {
	c, err := o.Store.Release(ctx, account, res, key, b)
	o.seen(ctx, res, c, err)
	return c, err
}

func (o observedStore) Sync(ctx context.Context, account string, res backend.Resource, keys []string, b *backend.Bounds, ttl, keep time.Duration) (backend.Change, int, int, error) {
	c, added, removed, err := o.Store.Sync(ctx, account, res, keys, b, ttl, keep)
	o.seen(ctx, res, c, err)
	return c, added, removed, err
}

// ring is a fixed-size ring of the latest values.
type ring[T any] struct {
	buf  []T
	next int
	n    int
}

func (r *ring[T]) init(n int) { r.buf = make([]T, n) }

func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// appendTo appends a copy of the values to out, oldest first: with out of capacity
// len(r.buf) it allocates nothing (its callers make out before they lock).
func (r *ring[T]) appendTo(out []T) []T {
	for i := range r.n {
		out = append(out, r.buf[(r.next-r.n+i+len(r.buf))%len(r.buf)])
	}
	return out
}

// observe takes a usage figure of res learnt at now (a ledger operation's
// result, a read of the store): the trend, and the hour's peak, written
// through to the store when it is the highest this process has seen of
// the hour, so that the store's record is the account's peak.
func (r *statusRecorder) observe(ctx context.Context, res quota.Resource, used int, now time.Time) {
	res &= 1
	r.trend[res].Observe(now, used)
	if r.lastUsed[res].Swap(int64(used)) != int64(used) {
		r.gen.Add(1)
	}
	hour := now.Truncate(time.Hour)
	if !r.peaks.raise(hour, res, used) {
		return
	}
	rec, ok := r.c.store.(backend.PeakRecorder)
	if !ok {
		return
	}
	got, err := rec.RecordPeak(context.WithoutCancel(ctx), r.c.accountSID, backend.Resource(res), hour, used, hour.Add(time.Hour+r.period))
	if err != nil {
		r.peaks.unflush(hour, res, used)
		return
	}
	r.peaks.flushed(hour, res, got)
}

// event records e in the ring of recent events.
func (r *statusRecorder) event(e StatusEvent) {
	defer r.gen.Add(1)
	r.mu.Lock()
	r.events.push(e)
	if e.Kind == "refused" && (e.Resource == "rooms" || e.Resource == "participants") {
		r.full[resourceIndex(e.Resource)] = e
	}
	r.mu.Unlock()
}

func resourceIndex(s string) int {
	if s == "participants" {
		return 1
	}
	return 0
}

// threshold is the Client's own threshold subscription: it records
// crossings and Twilio's refusals. It runs on the ledger's event goroutine.
func (r *statusRecorder) threshold(e quota.Event) {
	se := StatusEvent{At: e.At, Resource: e.Resource.String(), Used: e.Used, Limit: e.Limit,
		Level: e.Level, Code: e.Code, Source: e.Source.String()}
	switch {
	case e.Code == quota.CodeRoomsExceeded || e.Code == quota.CodeParticipantsExceeded:
		se.Kind = "refused"
	case e.Rising:
		se.Kind = "threshold-rising"
	default:
		se.Kind = "threshold-falling"
	}
	r.event(se)
}

// throttle records the onset (on true) or the end of a throttling episode of class.
func (r *statusRecorder) throttle(class quota.Class, on bool, now time.Time) {
	kind := "throttle-end"
	if on {
		kind = "throttle-start"
	}
	r.event(StatusEvent{At: now, Kind: kind, Class: class.String(), Code: quota.CodeTooManyRequests})
}

// reconciled records a reconciliation's drift.
func (r *statusRecorder) reconciled(d Drift) {
	defer r.gen.Add(1)
	r.mu.Lock()
	dc := d
	r.drift = &dc
	r.mu.Unlock()
	if n := d.Rooms.Added + d.Rooms.Removed + d.Participants.Added + d.Participants.Removed; n > 0 {
		r.event(StatusEvent{At: d.At, Kind: "drift", Source: quota.SourceReconcile.String(),
			Added: d.Rooms.Added + d.Participants.Added, Removed: d.Rooms.Removed + d.Participants.Removed})
	}
}

// room records a Room seen created, updated or ended (its SID, its
// UniqueName cut to Twilio's 128 characters, its status).
func (r *statusRecorder) room(sid, name, status string, at time.Time) {
	if sid == "" {
		return
	}
	if len(name) > maxRoomName {
		name = name[:maxRoomName]
	}
	sr := StatusRoom{SID: sid, Name: name, Status: status, At: at}
	defer r.gen.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	// The same Room again replaces its entry.
	for i := range r.rooms.n {
		j := (r.rooms.next - 1 - i + len(r.rooms.buf)) % len(r.rooms.buf)
		if r.rooms.buf[j].SID == sid {
			if sr.Name == "" {
				sr.Name = r.rooms.buf[j].Name
			}
			r.rooms.buf[j] = sr
			return
		}
	}
	r.rooms.push(sr)
}

// roomSeen records a Room of a REST answer.
func (r *statusRecorder) roomSeen(room *openapi.VideoV1Room) {
	if room == nil || room.Sid == nil {
		return
	}
	var name, status string
	if room.UniqueName != nil {
		name = *room.UniqueName
	}
	if room.Status != nil {
		status = *room.Status
	}
	r.room(*room.Sid, name, status, r.c.now())
}

// sample reads the store's usage, observes it, and runs the forecast
// watch: the WithForecast goroutine's step.
func (r *statusRecorder) sample(ctx context.Context) {
	now := r.c.now()
	for _, res := range [...]quota.Resource{quota.Rooms, quota.Participants} {
		used, _, err := r.c.ledger.Used(ctx, res)
		if err != nil {
			continue
		}
		r.observe(ctx, res, used, now)
		limit := r.c.ledger.Limit(res)
		f := r.trend[res].Forecast(now, limit)
		w := r.watch[res]
		if w == nil {
			continue
		}
		changed, on := w.Update(f)
		if !changed {
			continue
		}
		kind := "forecast-end"
		if on {
			kind = "forecast-start"
		}
		r.event(StatusEvent{At: now, Kind: kind, Resource: res.String(), Used: used, Limit: limit})
		callback(r.c.life.callbacks, r.fn, quota.ForecastEvent{Resource: res, Used: used, Limit: limit,
			Exhausting: on, Horizon: r.trend[res].Config().Horizon, Forecast: f, At: now})
	}
}

// runForecast samples every step until Close.
func (c *Client) runForecast() {
	defer c.life.workers.Done()
	step := c.status.trend[0].Config().Step
	t := time.NewTicker(step)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.life.ctx, usageTimeout)
			c.status.sample(ctx)
			cancel()
		}
	}
}

// peakTable is this process's part of the peak report: one slot per hour
// of the period, in a ring indexed by the hour.
type peakTable struct {
	mu    sync.Mutex
	slots []peakSlot

	scratch sync.Pool // *[]peakSlot of len(slots): list's copies, made outside the lock
}

type peakSlot struct {
	hour    int64 // unix hour; 0 = empty
	used    [2]int
	flushed [2]int // the store's peak as last written or read back
}

func (p *peakTable) init(period time.Duration) {
	p.slots = make([]peakSlot, int(period/time.Hour)+1)
}

func (p *peakTable) slot(h int64) *peakSlot {
	s := &p.slots[int(h%int64(len(p.slots)))]
	if s.hour != h {
		if s.hour > h {
			return nil // older than the period
		}
		*s = peakSlot{hour: h}
	}
	return s
}

// raise records used for res in hour and reports whether the store must
// be told (used is above what it was last told). Requires nothing held.
func (p *peakTable) raise(hour time.Time, res quota.Resource, used int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.slot(hour.Unix() / 3600)
	if s == nil {
		return false
	}
	s.used[res] = max(s.used[res], used)
	if used <= s.flushed[res] {
		return false
	}
	s.flushed[res] = used // claimed: concurrent observers of a lower figure write nothing
	return true
}

// flushed records the store's answer for hour: its peak, which may be
// another process's, higher.
func (p *peakTable) flushed(hour time.Time, res quota.Resource, peak int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.slot(hour.Unix() / 3600); s != nil {
		s.flushed[res] = max(s.flushed[res], peak)
	}
}

// unflush forgets a claim whose write failed, so that the next figure
// tries again.
func (p *peakTable) unflush(hour time.Time, res quota.Resource, used int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.slot(hour.Unix() / 3600); s != nil && s.flushed[res] == used {
		s.flushed[res] = 0
	}
}

// copySlots copies the table's slots into dst, of their length.
func (p *peakTable) copySlots(dst []peakSlot) {
	p.mu.Lock()
	copy(dst, p.slots)
	p.mu.Unlock()
}

// list returns the local peaks of the hours from..to, oldest first. It
// holds the table's lock (which every ledger operation takes) for a copy
// of the slots only.
func (p *peakTable) list(from, to int64) []backend.HourPeak {
	buf, _ := p.scratch.Get().(*[]peakSlot)
	if buf == nil {
		b := make([]peakSlot, len(p.slots)) // the length is fixed at init
		buf = &b
	}
	defer p.scratch.Put(buf)
	slots := *buf
	p.copySlots(slots)
	var out []backend.HourPeak
	for h := from; h <= to; h++ {
		s := &slots[int(h%int64(len(slots)))]
		if s.hour == h {
			out = append(out, backend.HourPeak{Hour: time.Unix(h*3600, 0).UTC(), Rooms: s.used[0], Participants: s.used[1]})
		}
	}
	return out
}

// historyCache keeps the highest usage of a trend's finished steps, so that
// a snapshot reads from the trend (under the lock every ledger operation
// takes to observe) only the steps since the last snapshot, not the hour.
// A step is final once the trend has moved past it: a late observation
// counts towards the newest step only.
type historyCache struct {
	mu    sync.Mutex // taken by snapshot builds and Status only
	first int64      // the step number of vals[0]
	vals  []int      // Max of consecutive finished steps
}

// last returns the highest usage of each step of the last d, oldest first,
// as t.History(now, d) does.
func (h *historyCache) last(t *forecast.Trend, now time.Time, d time.Duration) []int {
	step := t.Config().Step
	want := int64(d / step)
	h.mu.Lock()
	defer h.mu.Unlock()
	n := want
	end := h.first + int64(len(h.vals)) // the first step not kept
	if len(h.vals) > 0 {
		n = min(want, max(now.UnixNano()/int64(step)-end+1, 1))
	}
	pts := t.History(now, time.Duration(n)*step)
	if len(pts) == 0 {
		return nil
	}
	stepOf := func(p forecast.Point) int64 { return p.At.UnixNano() / int64(step) }
	if len(h.vals) == 0 || stepOf(pts[0]) > end {
		// The first read, or the trend moved further than now says: read the whole span again.
		if n < want {
			pts = t.History(now, d)
		}
		h.first, h.vals = stepOf(pts[0]), h.vals[:0]
		end = h.first
	}
	head := stepOf(pts[len(pts)-1])
	for _, p := range pts[:len(pts)-1] {
		if s := stepOf(p); s == end {
			h.vals = append(h.vals, p.Max)
			end++
		}
	}
	// Keep the finished steps within d of the newest one.
	if lo := head - want + 1; lo > h.first {
		cut := int(min(lo-h.first, int64(len(h.vals))))
		h.vals = h.vals[cut:]
		h.first += int64(cut)
	}
	out := make([]int, 0, len(h.vals)+1)
	out = append(out, h.vals...)
	return append(out, pts[len(pts)-1].Max)
}
