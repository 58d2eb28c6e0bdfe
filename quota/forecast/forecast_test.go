package forecast_test

import (
	"testing"
	"time"

	"github.com/videoquota/videoquota/quota/forecast"
)

// episode is an onset (Exhausting true) or an end reported by a Watch.
type episode struct {
	Used       int
	Limit      int
	Exhausting bool
	Forecast   forecast.Forecast
	At         time.Time
}

// replay feeds a usage series to a Trend and a Watch, one
// observation a second under a fake clock, and returns the episodes
// (onsets and ends, in order) and the forecast at every observation.
type replayResult struct {
	events    []episode
	forecasts []forecast.Forecast // one per second
}

func replay(t *testing.T, cfg forecast.Config, limit int, seconds int, usage func(s int) int) replayResult {
	t.Helper()
	tr, err := forecast.NewTrend(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := forecast.NewWatch(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var r replayResult
	for s := 0; s < seconds; s++ {
		now := start.Add(time.Duration(s) * time.Second)
		u := usage(s)
		tr.Observe(now, u)
		f := tr.Forecast(now, limit)
		r.forecasts = append(r.forecasts, f)
		if changed, on := w.Update(f); changed {
			r.events = append(r.events, episode{Used: u, Limit: limit, Exhausting: on, Forecast: f, At: now})
		}
	}
	return r
}

func TestForecastLinearRamp(t *testing.T) {
	// 2 slots a second from 0 to 8,000 (at 4,000 s), then flat; the quota
	// is 10,000, the horizon 30 minutes.
	const limit = 10000
	usage := func(s int) int { return min(2*s, 8000) }
	r := replay(t, forecast.Config{}, limit, 5000, usage)

	// At one hour, both windows see 2/s: 7,200 used, 2,800 left, 1,400 s.
	f := r.forecasts[3600]
	if !f.Rising {
		t.Fatalf("at 1h: no forecast on a linear ramp: %+v", f)
	}
	want := 1400 * time.Second
	if f.Earliest > want || f.Latest < want || f.Latest-f.Earliest > want/20 {
		t.Errorf("at 1h: forecast %s..%s, want a narrow range around %s", f.Earliest, f.Latest, want)
	}
	for _, w := range []forecast.WindowTrend{f.Short, f.Long} {
		if w.Slope < 1.99 || w.Slope > 2.01 {
			t.Errorf("window %s: slope %.3f/s, want 2/s", w.Window, w.Slope)
		}
	}
	// Before half the long window of history there is no forecast.
	if r.forecasts[29*60].Rising {
		t.Errorf("at 29 min: forecast with less than half the long window of history")
	}
	// One episode: it starts when the forecast comes within 30 minutes
	// (usage 6,400 at 3,200 s, give or take a sample) and ends once the
	// ramp stops and the short window flattens.
	if len(r.events) != 2 || !r.events[0].Exhausting || r.events[1].Exhausting {
		t.Fatalf("episodes: %+v, want one onset then one end", r.events)
	}
	if at := r.events[0].Used; at < 6300 || at > 6500 {
		t.Errorf("onset at usage %d, want about 6,400 (30 minutes before 10,000 at 2/s)", at)
	}
	if end := r.events[1].At.Sub(r.events[0].At); end < 800*time.Second {
		t.Errorf("episode ended after %s, before the ramp stopped", end)
	}
	// Flat at 8,000: no forecast at the end.
	if f := r.forecasts[4999]; f.Rising || f.Earliest != 0 || f.Latest != 0 {
		t.Errorf("flat after the ramp: forecast %+v, want none", f)
	}
}

func TestForecastFlatAndFalling(t *testing.T) {
	for _, tc := range []struct {
		name  string
		usage func(s int) int
	}{
		{"flat", func(int) int { return 5000 }},
		{"falling", func(s int) int { return 9000 - s }},
		{"empty", func(int) int { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := replay(t, forecast.Config{}, 10000, 7200, tc.usage)
			for s, f := range r.forecasts {
				if f.Rising || f.Earliest != 0 || f.Latest != 0 || f.Short.Rising || f.Long.Rising {
					t.Fatalf("at %d s: forecast %+v on a %s series", s, f, tc.name)
				}
			}
			if len(r.events) != 0 {
				t.Errorf("episodes %+v on a %s series", r.events, tc.name)
			}
		})
	}
}

func TestForecastSawtooth(t *testing.T) {
	// From 2,000 to 4,000 over 10 minutes, back to 2,000, for 3 hours: the
	// short window rises and falls with each tooth, the long one sees no
	// trend that would reach 10,000 within hours.
	usage := func(s int) int { return 2000 + (s%600)*2000/600 }
	r := replay(t, forecast.Config{}, 10000, 3*3600, usage)
	if len(r.events) != 0 {
		t.Fatalf("episodes %+v on a sawtooth", r.events)
	}
	var shortRose bool
	for s, f := range r.forecasts {
		shortRose = shortRose || f.Short.Rising
		if f.Long.Rising && f.Long.ETA < 3*time.Hour {
			t.Fatalf("at %d s: long window's forecast %s on a sawtooth, want none or hours away", s, f.Long.ETA)
		}
	}
	if !shortRose {
		t.Errorf("the short window never saw a tooth rise")
	}
}

func TestForecastSpikeFallsBack(t *testing.T) {
	// Flat at 2,000 for an hour, up to 6,000 in 2 minutes, back in 2
	// minutes, flat again: the short window sees the spike, the long one
	// does not predict the quota within the horizon, so there is no
	// episode; after the spike there is no forecast.
	usage := func(s int) int {
		switch {
		case s < 3600:
			return 2000
		case s < 3720:
			return 2000 + (s-3600)*4000/120
		case s < 3840:
			return 6000 - (s-3720)*4000/120
		default:
			return 2000
		}
	}
	r := replay(t, forecast.Config{}, 10000, 5400, usage)
	if !r.forecasts[3700].Short.Rising || r.forecasts[3700].Short.ETA > 10*time.Minute {
		t.Errorf("during the spike the short window should predict the quota within minutes: %+v", r.forecasts[3700].Short)
	}
	if len(r.events) != 0 {
		t.Fatalf("episodes %+v on a spike that fell back", r.events)
	}
	for s := 3840 + 300; s < 5400; s++ {
		if f := r.forecasts[s]; f.Rising {
			t.Fatalf("at %d s, after the spike: forecast %+v", s, f)
		}
	}
}

func TestForecastEpisodesHysteresis(t *testing.T) {
	// A ramp whose forecast hovers around the horizon: two slopes that put
	// the ETA a little inside and a little outside 30 minutes, alternating
	// every 10 minutes; the hysteresis keeps it one episode.
	cfg := forecast.Config{Horizon: 30 * time.Minute}
	tr, _ := forecast.NewTrend(cfg)
	w, _ := forecast.NewWatch(cfg)
	start := time.Unix(0, 0)
	var onsets, ends int
	u := 0.0
	for s := 0; s < 4*3600; s++ {
		now := start.Add(time.Duration(s) * time.Second)
		// With a huge limit that moves with usage, the headroom stays
		// 3,600 slots: at 2.2/s the ETA is 27 minutes, at 1.8/s 33 minutes.
		rate := 2.2
		if (s/600)%2 == 1 {
			rate = 1.8
		}
		u += rate
		tr.Observe(now, int(u))
		f := tr.Forecast(now, int(u)+3600)
		if changed, on := w.Update(f); changed {
			if on {
				onsets++
			} else {
				ends++
			}
		}
	}
	if onsets != 1 || ends != 0 {
		t.Errorf("onsets %d, ends %d: want one episode that does not flap", onsets, ends)
	}
}

func TestForecastBoundedAndUnlimited(t *testing.T) {
	tr, err := forecast.NewTrend(forecast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1000, 0)
	for s := range 7200 {
		tr.Observe(start.Add(time.Duration(s)*time.Second), s)
	}
	now := start.Add(7200 * time.Second)
	if h := tr.History(now, 24*time.Hour); len(h) != 360 {
		t.Errorf("history holds %d samples, want 360 (one hour of 10 s steps)", len(h))
	}
	if f := tr.Forecast(now, -1 /* unlimited */); f.Rising {
		t.Errorf("forecast for an unlimited quota: %+v", f)
	}
	// A day's gap carries the last usage forward: flat, no forecast.
	later := now.Add(24 * time.Hour)
	if f := tr.Forecast(later, 100000); f.Rising {
		t.Errorf("forecast after a flat day: %+v", f)
	}
	if h := tr.History(later, time.Hour); len(h) != 360 || h[0].Last != 7199 || h[359].Max != 7199 {
		t.Errorf("history after a gap: %d samples, first %+v", len(h), h[0])
	}
}

func TestForecastConfigValidate(t *testing.T) {
	for _, c := range []forecast.Config{
		{Short: -time.Second},
		{Short: time.Hour, Long: time.Minute},
		{Short: 20 * time.Second, Step: 10 * time.Second},
		{Long: 100 * time.Hour, Step: time.Second},
		{Hysteresis: -1},
	} {
		if _, err := forecast.NewTrend(c); err == nil {
			t.Errorf("NewTrend(%+v): no error", c)
		}
	}
}
