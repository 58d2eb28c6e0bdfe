// Package forecast predicts when a concurrency quota would be reached at
// its recent trend: a [Trend] keeps a resource's usage in a ring of
// fixed-width samples and fits a line to two windows of it, and a [Watch]
// turns successive forecasts into episodes (an onset and an end, with
// hysteresis). Package video feeds one Trend per resource with every usage
// figure it learns and reports the forecast in Usage, on its status page
// and to a quota.ForecastFunc.
package forecast

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Defaults of a [Config]. The two windows follow the multiwindow
// burn-rate alerts of Google's SRE workbook ("Alerting on SLOs",
// https://sre.google/workbook/alerting-on-slos/): a long window that shows
// the trend is real and a short one that shows it is still going on.
const (
	// defaultShort is the short window: the trend of the last 5 minutes.
	defaultShort = 5 * time.Minute
	// defaultLong is the long window: the trend of the last hour.
	defaultLong = time.Hour
	// defaultStep is the width of one sample of the trend: usage is
	// kept as one value per 10 seconds (360 samples for the long window).
	defaultStep = 10 * time.Second
	// defaultHorizon is how soon both windows must predict the quota
	// reached for a quota.ForecastFunc to be told: 30 minutes, time to ask for
	// more quota or to shed load before Twilio refuses with 53119 or 53206.
	defaultHorizon = 30 * time.Minute
	// defaultHysteresis is how far past the horizon a window's
	// forecast must move (as a share of the horizon) before the episode is
	// reported over: 25%, so a forecast hovering at the horizon is reported
	// once, not on every sample.
	defaultHysteresis = 0.25
)

// sigmas is how many standard errors a window's slope must stand
// above zero to count as rising, and how wide the range of its forecast is:
// two, about a 95% interval.
const sigmas = 2

// Config says how a [Trend] and a [Watch] forecast. Zero fields take the
// defaults: Short 5 minutes, Long 1 hour, Step 10 seconds, Horizon 30
// minutes, Hysteresis 0.25.
type Config struct {
	Short, Long time.Duration // the two windows; Short < Long
	Step        time.Duration // one sample's width; Long/Step samples are kept (at most 10,000)
	// Horizon: a quota.ForecastFunc is told when both windows predict the quota
	// reached within Horizon.
	Horizon time.Duration
	// Hysteresis: the episode is over when a window stops rising, or when
	// its forecast moves past Horizon*(1+Hysteresis).
	Hysteresis float64
}

// maxSamples bounds a Trend's memory: 10,000 samples of 8 bytes.
const maxSamples = 10000

// WithDefaults returns c with every zero field replaced by its default.
func (c Config) WithDefaults() Config {
	if c.Short == 0 {
		c.Short = defaultShort
	}
	if c.Long == 0 {
		c.Long = defaultLong
	}
	if c.Step == 0 {
		c.Step = defaultStep
	}
	if c.Horizon == 0 {
		c.Horizon = defaultHorizon
	}
	if c.Hysteresis == 0 {
		c.Hysteresis = defaultHysteresis
	}
	return c
}

// Validate reports a configuration that cannot be used (after
// [Config.WithDefaults]): negative durations, Short not below Long,
// a window shorter than three steps, more than 10,000 samples, a negative
// hysteresis.
func (c Config) Validate() error {
	switch {
	case c.Short < 0 || c.Long < 0 || c.Step < 0 || c.Horizon < 0:
		return fmt.Errorf("forecast: Config: negative duration (Short %s, Long %s, Step %s, Horizon %s)", c.Short, c.Long, c.Step, c.Horizon)
	case c.Hysteresis < 0 || math.IsNaN(c.Hysteresis):
		return fmt.Errorf("forecast: Config: Hysteresis %v, want >= 0", c.Hysteresis)
	}
	d := c.WithDefaults()
	switch {
	case d.Short >= d.Long:
		return fmt.Errorf("forecast: Config: Short %s must be below Long %s", d.Short, d.Long)
	case d.Short < 3*d.Step:
		return fmt.Errorf("forecast: Config: Short %s must span at least three steps of %s", d.Short, d.Step)
	case d.Long/d.Step > maxSamples:
		return fmt.Errorf("forecast: Config: Long/Step = %d samples, at most %d", d.Long/d.Step, maxSamples)
	}
	return nil
}

// Forecast is when a concurrency quota would be reached if usage kept its
// recent trend. Rising is true only when both windows see usage rising
// (their least-squares slope more than two standard errors above zero);
// on a flat or falling trend there is no forecast and Earliest and Latest
// are zero.
type Forecast struct {
	// Rising: both windows see usage rising, and Earliest..Latest is the forecast.
	Rising bool
	// Earliest and Latest bound the time from now until usage reaches the
	// quota: the widest range of the two windows' (each its slope plus or
	// minus two standard errors). Latest is [Unbounded] when a
	// window's slope, less two standard errors, is not above zero. Both are
	// zero when usage is at or past the quota already.
	Earliest, Latest time.Duration
	// Short and Long are the two windows' own trends.
	Short, Long WindowTrend
}

// Unbounded stands for a forecast with no upper bound.
const Unbounded = time.Duration(math.MaxInt64)

// WindowTrend is the usage trend of one window.
type WindowTrend struct {
	Window time.Duration // the window's length
	// Samples is how many samples the window had (a window needs half its
	// length of history to forecast: before, Rising is false).
	Samples int
	// Slope is usage's least-squares slope over the window, in slots per
	// second (negative when falling), and SlopeErr its standard error.
	Slope, SlopeErr float64
	// Rising: Slope is more than two standard errors above zero.
	Rising bool
	// ETA is when usage would reach the quota at Slope, from now (zero
	// when not rising, or when usage is at the quota). Earliest and
	// Latest take the slope plus and minus two standard errors.
	ETA, Earliest, Latest time.Duration
}

// Trend keeps the recent usage of one concurrency resource in a ring of
// fixed-width samples (bounded memory: Long/Step samples) and forecasts
// when it would reach the quota. Observe it with every usage figure learnt;
// a sample holds the highest and the last usage seen in its step, and steps
// without an observation carry the last usage forward.
//
// A Trend is safe for simultaneous use; each method holds its mutex for the
// time of a copy of the ring at most.
type Trend struct {
	cfg Config

	mu      sync.Mutex
	ring    []trendSample // ring[i%len] is the sample of step i
	head    int64         // the step of the newest sample
	have    int64         // how many steps have a value (carried or observed), at most len(ring)
	lastVal int32         // the latest usage observed
}

type trendSample struct{ max, last int32 }

// NewTrend returns an empty Trend for cfg (zero fields take the defaults),
// or the error of [Config.Validate].
func NewTrend(cfg Config) (*Trend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Trend{cfg: cfg, ring: make([]trendSample, int(cfg.Long/cfg.Step))}, nil
}

// Config returns the Trend's configuration, defaults filled in.
func (t *Trend) Config() Config { return t.cfg }

func (t *Trend) step(at time.Time) int64 { return at.UnixNano() / int64(t.cfg.Step) }

// Observe records usage used at time at. An observation older than the
// newest sample counts towards the newest sample's highest usage only.
func (t *Trend) Observe(at time.Time, used int) {
	v := int32(min(max(used, 0), math.MaxInt32))
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.step(at)
	if t.have == 0 {
		t.head = s
		t.have = 1
		t.ring[t.idx(s)] = trendSample{max: v, last: v}
		t.lastVal = v
		return
	}
	if s <= t.head {
		p := &t.ring[t.idx(t.head)]
		p.max = max(p.max, v)
		if s == t.head {
			p.last = v
			t.lastVal = v
		}
		return
	}
	t.advanceLocked(s)
	t.ring[t.idx(s)] = trendSample{max: v, last: v}
	t.lastVal = v
}

// advanceLocked moves the head to step s, carrying the last usage into
// the steps between. Requires mu held and s > head.
func (t *Trend) advanceLocked(s int64) {
	n := int64(len(t.ring))
	gap := s - t.head
	from := t.head + 1
	if gap > n {
		from = s - n + 1
	}
	for i := from; i <= s; i++ {
		t.ring[t.idx(i)] = trendSample{max: t.lastVal, last: t.lastVal}
	}
	t.have = min(t.have+gap, n)
	t.head = s
}

func (t *Trend) idx(step int64) int {
	n := int64(len(t.ring))
	return int(((step % n) + n) % n)
}

// Point is one sample of a [Trend]'s history.
type Point struct {
	At   time.Time // the start of the sample's step
	Max  int       // the highest usage seen in the step
	Last int       // the usage at the end of the step
}

// History returns the samples of the last d (at most the long window),
// oldest first, as seen at time now: steps after the last observation carry
// its usage. It allocates one slice of at most Long/Step points.
func (t *Trend) History(now time.Time, d time.Duration) []Point {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.have == 0 {
		return nil
	}
	s := t.step(now)
	if s > t.head {
		t.advanceLocked(s)
	}
	n := min(int64(d/t.cfg.Step), t.have)
	out := make([]Point, 0, n)
	for i := t.head - n + 1; i <= t.head; i++ {
		p := t.ring[t.idx(i)]
		out = append(out, Point{At: time.Unix(0, i*int64(t.cfg.Step)), Max: int(p.max), Last: int(p.last)})
	}
	return out
}

// Forecast returns when usage would reach limit at its trend as of now; a
// negative limit (unlimited) has no forecast.
func (t *Trend) Forecast(now time.Time, limit int) Forecast {
	t.mu.Lock()
	if t.have == 0 {
		t.mu.Unlock()
		return Forecast{Short: WindowTrend{Window: t.cfg.Short}, Long: WindowTrend{Window: t.cfg.Long}}
	}
	if s := t.step(now); s > t.head {
		t.advanceLocked(s)
	}
	used := int(t.lastVal)
	short := t.windowLocked(t.cfg.Short, now)
	long := t.windowLocked(t.cfg.Long, now)
	t.mu.Unlock()
	short.eta(used, limit)
	long.eta(used, limit)
	f := Forecast{Short: short, Long: long}
	if short.Rising && long.Rising {
		f.Rising = true
		f.Earliest = min(short.Earliest, long.Earliest)
		f.Latest = max(short.Latest, long.Latest)
	}
	return f
}

// windowLocked fits a line to the last samples of window w: the last
// usage of each step at the step's end, and the newest (unfinished) step's
// usage at now. Requires mu held.
func (t *Trend) windowLocked(w time.Duration, now time.Time) WindowTrend {
	want := int64(w / t.cfg.Step)
	n := min(want, t.have)
	wt := WindowTrend{Window: w, Samples: int(n)}
	if n < 3 || n*2 < want {
		return wt
	}
	// Least squares of y on x (x in seconds from the window's first step).
	step := t.cfg.Step.Seconds()
	first := t.head - n + 1
	headX := now.Sub(time.Unix(0, first*int64(t.cfg.Step))).Seconds()
	xOf := func(i int64) float64 {
		if i == t.head {
			return max(headX, float64(i-first)*step)
		}
		return float64(i-first+1) * step
	}
	var sx, sy, sxx, sxy float64
	for i := first; i <= t.head; i++ {
		x := xOf(i)
		y := float64(t.ring[t.idx(i)].last)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	fn := float64(n)
	dxx := sxx - sx*sx/fn
	if dxx <= 0 {
		return wt
	}
	b := (sxy - sx*sy/fn) / dxx
	a := (sy - b*sx) / fn
	var sse float64
	for i := first; i <= t.head; i++ {
		x := xOf(i)
		r := float64(t.ring[t.idx(i)].last) - (a + b*x)
		sse += r * r
	}
	wt.Slope = b
	wt.SlopeErr = math.Sqrt(sse / (fn - 2) / dxx)
	wt.Rising = b-sigmas*wt.SlopeErr > 0 && b > 1e-12
	return wt
}

// eta fills the forecast of a rising window for usage used of limit.
func (w *WindowTrend) eta(used, limit int) {
	if limit < 0 {
		w.Rising = false
	}
	if !w.Rising {
		return
	}
	head := float64(limit - used)
	if head <= 0 {
		return // at the quota: every forecast is zero
	}
	w.ETA = seconds(head / w.Slope)
	w.Earliest = seconds(head / (w.Slope + sigmas*w.SlopeErr))
	if lo := w.Slope - sigmas*w.SlopeErr; lo > 0 {
		w.Latest = seconds(head / lo)
	} else {
		w.Latest = Unbounded
	}
}

// seconds converts s seconds to a Duration, saturating.
func seconds(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/float64(time.Second) {
		return Unbounded
	}
	return time.Duration(s * float64(time.Second))
}

// Watch turns a resource's successive forecasts into episodes: it
// reports an onset once when both windows predict the quota reached within
// the horizon (their ETA at most Horizon), and the end once when either
// window stops rising or its ETA moves past Horizon*(1+Hysteresis). Its zero
// value is not ready: use [NewWatch]. It is not safe for
// simultaneous use: one goroutine feeds it.
type Watch struct {
	horizon, off time.Duration
	on           bool
}

// NewWatch returns a watch for cfg's horizon and hysteresis (zero
// fields take the defaults).
func NewWatch(cfg Config) (*Watch, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if cfg.Horizon <= 0 {
		return nil, errors.New("forecast: Config: Horizon must be positive")
	}
	off := time.Duration(float64(cfg.Horizon) * (1 + cfg.Hysteresis))
	return &Watch{horizon: cfg.Horizon, off: off}, nil
}

// On reports whether an episode is under way.
func (w *Watch) On() bool { return w.on }

// Update takes the latest forecast and reports whether it starts an
// episode (changed true, on true) or ends one (changed true, on false).
func (w *Watch) Update(f Forecast) (changed, on bool) {
	within := func(lim time.Duration) bool {
		return f.Short.Rising && f.Long.Rising && f.Short.ETA <= lim && f.Long.ETA <= lim
	}
	switch {
	case !w.on && within(w.horizon):
		w.on = true
		return true, true
	case w.on && !within(w.off):
		w.on = false
		return true, false
	}
	return false, w.on
}
