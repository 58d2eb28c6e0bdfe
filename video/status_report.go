package video

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/videoquota/videoquota/quota"
	"github.com/videoquota/videoquota/quota/backend"
	"github.com/videoquota/videoquota/quota/forecast"
)

// StatusReport is the state [Client.StatusHandler] serves, as JSON (GET
// with Accept: application/json) and as the page. It holds figures, Room
// names and SIDs, never a credential, a signature, a token or a
// Participant's identity.
type StatusReport struct {
	// At is when the report was made (the Client's clock), RFC 3339.
	At time.Time `json:"at"`
	// Resources are the concurrency quotas: "rooms", then "participants".
	Resources []ResourceStatus `json:"resources"`
	// Classes are the request-rate quotas: "read", then "write".
	Classes []ClassStatus `json:"classes"`
	// Retries counts requests this Client sent again (after a 20429, a 5xx
	// or a network error); Throttled the 429 answers (20429) it received;
	// LocalRefusals the calls refused without a request (no slot, no token
	// in time); TwilioRefusals the 53119/53206 answers.
	Retries        int64 `json:"retries"`
	Throttled      int64 `json:"throttled"`
	LocalRefusals  int64 `json:"localRefusals"`
	TwilioRefusals int64 `json:"twilioRefusals"`
	// Events are the latest threshold crossings, Twilio refusals, throttle
	// episodes, forecast episodes and reconcile corrections (at most 64),
	// oldest first.
	Events []StatusEvent `json:"events"`
	// Rooms are the latest Rooms this Client saw created, updated or ended
	// (at most 32), oldest first.
	Rooms []StatusRoom `json:"rooms"`
	// Drift is the last reconciliation's correction; null before the first.
	Drift *StatusDrift `json:"drift"`
	// Peaks is the peak report (see [PeakReport]).
	Peaks PeakReport `json:"peaks"`
}

// ResourceStatus is one concurrency quota.
type ResourceStatus struct {
	// Resource is "rooms" or "participants".
	Resource string `json:"resource"`
	// Used is held plus pending slots, for the whole account when the
	// store is shared; Pending the reservations among them not yet
	// settled; Limit the quota (-1: unlimited).
	Used    int `json:"used"`
	Pending int `json:"pending"`
	Limit   int `json:"limit"`
	// Utilization is Used/Limit (0 when unlimited).
	Utilization float64 `json:"utilization"`
	// Full is true while the resource is marked full after Twilio refused
	// for its quota; FullReason says what was last learnt of why.
	Full       bool   `json:"full"`
	FullReason string `json:"fullReason,omitempty"`
	// Forecast is when the quota would be reached at the recent trend.
	Forecast ForecastStatus `json:"forecast"`
	// StepSeconds is the width of one History sample, in seconds; History
	// is the highest usage of each step of the last hour, oldest first
	// (at most 360 values at the default 10 s step).
	StepSeconds float64 `json:"stepSeconds"`
	History     []int   `json:"history"`
}

// ForecastStatus is a [forecast.Forecast] in seconds.
type ForecastStatus struct {
	// Rising is true when both windows see usage rising; only then are
	// EarliestSeconds and LatestSeconds the forecast, a range of seconds
	// from At until the quota is reached (LatestSeconds is -1 when
	// unbounded).
	Rising          bool    `json:"rising"`
	EarliestSeconds float64 `json:"earliestSeconds"`
	LatestSeconds   float64 `json:"latestSeconds"`
	// Short and Long are the two windows' own trends.
	Short WindowStatus `json:"short"`
	Long  WindowStatus `json:"long"`
}

// WindowStatus is a [forecast.WindowTrend] in seconds.
type WindowStatus struct {
	// WindowSeconds is the window's length; Samples how many steps of it
	// have data (half the window is needed to forecast).
	WindowSeconds float64 `json:"windowSeconds"`
	Samples       int     `json:"samples"`
	// SlopePerSecond is the least-squares trend in slots per second
	// (negative when falling), SlopeErr its standard error.
	SlopePerSecond float64 `json:"slopePerSecond"`
	SlopeErr       float64 `json:"slopeErr"`
	// Rising: the slope is more than two standard errors above zero;
	// ETASeconds is then when the quota would be reached at that slope.
	Rising     bool    `json:"rising"`
	ETASeconds float64 `json:"etaSeconds"`
}

// ClassStatus is one request-rate quota.
type ClassStatus struct {
	// Class is "read" (GET) or "write" (POST, DELETE).
	Class string `json:"class"`
	// RatePerSecond and Burst are the configured ceiling (RatePerSecond -1:
	// unlimited).
	RatePerSecond float64 `json:"ratePerSecond"`
	Burst         int     `json:"burst"`
	// Factor is the adaptive factor (1 = not slowed down after a 20429)
	// and Estimate the rate the account appears to allow, RatePerSecond
	// times Factor.
	Factor   float64 `json:"factor"`
	Estimate float64 `json:"estimate"`
	// Tokens is how many tokens the bucket holds now (negative while
	// tokens granted with a wait are owed; 0 when unknown).
	Tokens float64 `json:"tokens"`
	// Requests counts HTTP requests this Client sent of the class.
	Requests int64 `json:"requests"`
	// Throttling is true during a throttling episode (429s without a
	// recovery since).
	Throttling bool `json:"throttling"`
}

// StatusEvent is one recent event.
type StatusEvent struct {
	// At is when it happened.
	At time.Time `json:"at"`
	// Kind is "threshold-rising", "threshold-falling", "refused" (Twilio's
	// 53119/53206), "throttle-start", "throttle-end", "forecast-start",
	// "forecast-end" or "drift".
	Kind string `json:"kind"`
	// Resource ("rooms", "participants") or Class ("read", "write"), as
	// the kind concerns.
	Resource string `json:"resource,omitempty"`
	Class    string `json:"class,omitempty"`
	// Used and Limit are the usage then, Level the threshold level crossed
	// (a share of Limit), Code Twilio's code (53121, 53119, 53206, 20429),
	// Source who reported it ("local", "twilio", "reconcile", "callback").
	Used   int     `json:"used,omitempty"`
	Limit  int     `json:"limit,omitempty"`
	Level  float64 `json:"level,omitempty"`
	Code   int     `json:"code,omitempty"`
	Source string  `json:"source,omitempty"`
	// Added and Removed are the slots a reconciliation corrected (drift).
	Added   int `json:"added,omitempty"`
	Removed int `json:"removed,omitempty"`
}

// StatusRoom is a Room the Client saw recently.
type StatusRoom struct {
	SID    string    `json:"sid"`    // the Room SID (RM…)
	Name   string    `json:"name"`   // its UniqueName, at most 128 characters
	Status string    `json:"status"` // "in-progress", "completed" or "failed"
	At     time.Time `json:"at"`     // when the Client learnt it
}

// StatusDrift is the correction of the last reconciliation.
type StatusDrift struct {
	At                  time.Time `json:"at"`
	RoomsAdded          int       `json:"roomsAdded"`
	RoomsRemoved        int       `json:"roomsRemoved"`
	ParticipantsAdded   int       `json:"participantsAdded"`
	ParticipantsRemoved int       `json:"participantsRemoved"`
	// Requests is how many reads the pass sent.
	Requests int `json:"requests"`
}

// PeakReport is the highest concurrent usage per hour and per day (UTC),
// for the whole account when the store keeps the report
// ([backend.PeakRecorder]: the memory store and the Redis store do), else
// for this process.
type PeakReport struct {
	// PeriodHours is how many hours are kept ([WithPeakPeriod]).
	PeriodHours int `json:"periodHours"`
	// Shared is true when the figures come from the store (every process
	// sharing it), false when they are this process's own.
	Shared bool `json:"shared"`
	// Rooms and Participants are the highest of the period.
	Rooms        int `json:"rooms"`
	Participants int `json:"participants"`
	// Hourly are the peaks of the last 48 hours with a record, oldest
	// first (the whole period is served as CSV or JSON with ?peaks=).
	Hourly []PeakRow `json:"hourly"`
	// Daily are the peaks of each day of the period with a record.
	Daily []PeakRow `json:"daily"`
}

// PeakRow is the peak of one hour or one day.
type PeakRow struct {
	Start        time.Time `json:"start"` // the hour's or the day's start, UTC
	Rooms        int       `json:"rooms"`
	Participants int       `json:"participants"`
}

// peakSnapshot is the whole period's hourly peaks as last read.
type peakSnapshot struct {
	shared bool
	hours  []PeakRow
}

// storePeaks is the store's part of the report as last read, and when
// (by the process's own clock: its age is a matter of load, not of the
// Client's clock).
type storePeaks struct {
	read  time.Time
	hours []backend.HourPeak
}

// peakRefresh is how often the store's peak report is read again for
// the status page (every read of the page within it shares one copy).
const peakRefresh = 5 * time.Second

// peakReport returns the period's hourly peaks: the store's merged with
// this process's own (which may not have reached the store yet, and are
// always current). fresh reads the store now; otherwise the store's copy
// may be up to peakRefresh old, and one request at a time reads it again.
func (r *statusRecorder) peakReport(ctx context.Context, now time.Time, fresh bool) *peakSnapshot {
	to := now.Unix() / 3600
	from := to - int64(r.period/time.Hour) + 1
	rec, shared := r.c.store.(backend.PeakRecorder)
	var stored []backend.HourPeak
	if shared {
		sp := r.peakCache.Load()
		stale := sp == nil || time.Since(sp.read) >= peakRefresh
		if fresh || (stale && r.peakBusy.CompareAndSwap(false, true)) {
			if !fresh {
				defer r.peakBusy.Store(false)
			}
			// The whole period: Redis keys expire after it, the memory
			// store drops them as it goes.
			hs, err := rec.Peaks(ctx, r.c.accountSID, time.Unix(from*3600, 0), time.Unix(to*3600, 0))
			if err == nil {
				sp = &storePeaks{read: time.Now(), hours: hs}
				r.peakCache.Store(sp)
			} else if sp == nil {
				shared = false
			}
		}
		if sp != nil {
			stored = sp.hours
		}
	}
	merged := map[int64]*PeakRow{}
	add := func(h backend.HourPeak) {
		k := h.Hour.Unix() / 3600
		if k < from || k > to {
			return
		}
		p := merged[k]
		if p == nil {
			p = &PeakRow{Start: h.Hour.UTC()}
			merged[k] = p
		}
		p.Rooms = max(p.Rooms, h.Rooms)
		p.Participants = max(p.Participants, h.Participants)
	}
	for _, h := range r.peaks.list(from, to) {
		add(h)
	}
	for _, h := range stored {
		add(h)
	}
	keys := make([]int64, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	snap := &peakSnapshot{shared: shared}
	for _, k := range keys {
		snap.hours = append(snap.hours, *merged[k])
	}
	return snap
}

// daily folds hourly peaks into UTC days.
func daily(hours []PeakRow) []PeakRow {
	var out []PeakRow
	for _, h := range hours {
		d := time.Date(h.Start.Year(), h.Start.Month(), h.Start.Day(), 0, 0, 0, 0, time.UTC)
		if n := len(out); n > 0 && out[n-1].Start.Equal(d) {
			out[n-1].Rooms = max(out[n-1].Rooms, h.Rooms)
			out[n-1].Participants = max(out[n-1].Participants, h.Participants)
			continue
		}
		out = append(out, PeakRow{Start: d, Rooms: h.Rooms, Participants: h.Participants})
	}
	return out
}

// Status returns the state [Client.StatusHandler] serves: usage, rates,
// forecasts, recent events and Rooms, and the peak report. The store is
// read with a one-second bound, as by [Client.Usage].
func (c *Client) Status() StatusReport {
	return c.status.report(false)
}

func (r *statusRecorder) report(freshPeaks bool) StatusReport {
	c := r.c
	ctx, cancel := context.WithTimeout(context.Background(), usageTimeout)
	defer cancel()
	now := c.now()
	u := c.usage(ctx, now)
	rep := StatusReport{At: now, Retries: u.Retries, Throttled: u.Throttled,
		LocalRefusals: u.LocalRefusals, TwilioRefusals: u.TwilioRefusals}
	// The copies are made before the lock, of the rings' sizes as they
	// were (a ring that grew in between grows its copy under the lock).
	r.mu.Lock()
	ne, nr := r.events.n, r.rooms.n
	r.mu.Unlock()
	events, rooms := make([]StatusEvent, 0, ne), make([]StatusRoom, 0, nr)
	r.mu.Lock() // for copies only: every event and Room seen waits on it
	full := r.full
	rep.Events = r.events.appendTo(events)
	rep.Rooms = r.rooms.appendTo(rooms)
	if d := r.drift; d != nil {
		rep.Drift = &StatusDrift{At: d.At, RoomsAdded: d.Rooms.Added, RoomsRemoved: d.Rooms.Removed,
			ParticipantsAdded: d.Participants.Added, ParticipantsRemoved: d.Participants.Removed, Requests: d.Requests}
	}
	r.mu.Unlock()
	for i, ru := range [...]quota.ResourceUsage{u.Rooms, u.Participants} {
		res := quota.Resource(i)
		rs := ResourceStatus{Resource: res.String(), Used: ru.Used, Pending: ru.Pending, Limit: ru.Limit,
			Utilization: ru.Share(), Full: ru.Full, Forecast: forecastStatus(ru.Forecast)}
		if ru.Full {
			rs.FullReason = "marked full by another client of the store"
			if n := c.stats.res[i].twilioRefused.Load(); n > 0 {
				rs.FullReason = "Twilio refused with " + strconv.Itoa(res.ExceededCode()) + " (" + strconv.FormatInt(n, 10) +
					" refusals seen by this Client); refused locally until a Room or Participant ends, a reconcile corrects the ledger, or the mark lapses"
			}
			if e := full[i]; !e.At.IsZero() {
				rs.FullReason = "Twilio refused with " + strconv.Itoa(e.Code) + " at " + e.At.UTC().Format(time.RFC3339) +
					"; refused locally until a Room or Participant ends, a reconcile corrects the ledger, or the mark lapses"
			}
		}
		rs.StepSeconds = r.trend[res].Config().Step.Seconds()
		rs.History = r.hist[res].last(r.trend[res], now, time.Hour)
		rep.Resources = append(rep.Resources, rs)
	}
	for i, cu := range [...]quota.ClassUsage{u.Reads, u.Writes} {
		rep.Classes = append(rep.Classes, ClassStatus{Class: quota.Class(i).String(),
			RatePerSecond: cu.Rate.PerSecond, Burst: cu.Rate.Burst, Factor: cu.Factor, Estimate: cu.Estimate,
			Tokens: cu.Tokens, Requests: cu.Requests, Throttling: c.stats.class[i].episode.active.Load()})
	}
	p := r.peakReport(ctx, now, freshPeaks)
	rep.Peaks = PeakReport{PeriodHours: int(r.period / time.Hour), Shared: p.shared, Daily: daily(p.hours)}
	cut := now.Add(-48 * time.Hour)
	for _, h := range p.hours {
		rep.Peaks.Rooms = max(rep.Peaks.Rooms, h.Rooms)
		rep.Peaks.Participants = max(rep.Peaks.Participants, h.Participants)
		if !h.Start.Before(cut) {
			rep.Peaks.Hourly = append(rep.Peaks.Hourly, h)
		}
	}
	if rep.Events == nil {
		rep.Events = []StatusEvent{}
	}
	if rep.Rooms == nil {
		rep.Rooms = []StatusRoom{}
	}
	return rep
}

func forecastStatus(f forecast.Forecast) ForecastStatus {
	secs := func(d time.Duration) float64 {
		if d == forecast.Unbounded {
			return -1
		}
		return math.Round(d.Seconds())
	}
	win := func(w forecast.WindowTrend) WindowStatus {
		return WindowStatus{WindowSeconds: w.Window.Seconds(), Samples: w.Samples, SlopePerSecond: w.Slope,
			SlopeErr: w.SlopeErr, Rising: w.Rising, ETASeconds: secs(w.ETA)}
	}
	return ForecastStatus{Rising: f.Rising, EarliestSeconds: secs(f.Earliest), LatestSeconds: secs(f.Latest),
		Short: win(f.Short), Long: win(f.Long)}
}
